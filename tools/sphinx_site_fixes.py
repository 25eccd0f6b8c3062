"""A local Sphinx extension that keeps the built pages free of browser console errors.

With Jupyter Book 1.0 and Sphinx 7.4, sphinx-thebe's and sphinx-togglebutton's inline scripts are
registered twice, so every page declared ``const THEBE_JS_URL`` twice ("Identifier 'THEBE_JS_URL'
has already been declared", a SyntaxError in the console). This extension drops the second copy of
any script that is identical to an earlier one (same file or same inline body, same attributes).
(The copies differ only in ``filename``: ``None`` for one, ``""`` for the other.) The browser test
(tests/site) checks that no page logs an error.
"""

from __future__ import annotations


def _key(script) -> tuple:
    """What a script is, whatever its priority: its file or inline body, and its attributes."""
    attributes = script.attributes if hasattr(type(script), "attributes") or "attributes" in vars(script) else {}
    return (str(script.filename or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in sorted(scripts, key=lambda js: js.priority):
        key = _key(script)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    scripts[:] = unique  # the builder's own list: edit it in place


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
