"""Reference interpreter (numpy): the golden model of edgec's integer semantics."""
