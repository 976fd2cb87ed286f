"""The shipped demo scenario: an exit point like Baghouz's over 14 days."""
