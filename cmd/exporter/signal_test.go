package main

import "syscall"

var sighup = syscall.SIGHUP
