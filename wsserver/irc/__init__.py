"""The IRC door: IRC clients in the same channels as the page (docs/protocol.md "IRC")."""
