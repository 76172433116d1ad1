#!/bin/sh
set -e
echo check
