#!/bin/sh
set -e
echo check
echo lint
