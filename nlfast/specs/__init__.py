"""Netlink specs written by the project (YAML, package data)."""
