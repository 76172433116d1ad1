package alignimages

// Codes are the short codes written to a resource's inconsistency
// annotation, and what each means. The one table the README, the results
// and people reading annotations all refer to.
var Codes = map[string]string{
	"i1": "image repository belongs to no allowed stream",
	"i2": "image uses an older accepted pullspec of its stream, not the desired one",
	"i3": "image has neither a tag nor a digest",
	"i4": "image's tag or digest is not accepted for its stream",
}
