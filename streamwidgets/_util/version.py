"""The package version, in one place (the package and the Pusher client name read it)."""

VERSION = "0.1.0"
