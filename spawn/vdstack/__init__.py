"""vdstack: the parts of spawn/stack that are better said in Python than in
shell: the nginx configuration rendered from its template, the demo, and the
events command's requests. spawn/stack runs it as `python3 spawn/vdstack
COMMAND ...` (see __main__.py); standard library only (Debian 12's python3).
"""
