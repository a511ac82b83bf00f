"""The functions under test; each directory holds a functions-framework main.py."""
