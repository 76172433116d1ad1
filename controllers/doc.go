// Package controllers holds one package per kind forkline reconciles:
// packagevariant and upstreampolicy.
package controllers
