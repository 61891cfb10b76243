"""Presentation: a :class:`~derivation.Derivation` written as text, Markdown, LaTeX, JSON or HTML.

Renderers only format what the derivation already holds; they never derive anything.
"""
