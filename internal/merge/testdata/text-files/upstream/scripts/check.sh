#!/bin/sh
echo check
echo lint
