"""Shared plumbing for the Hands-On Large Language Models companion notebooks."""
