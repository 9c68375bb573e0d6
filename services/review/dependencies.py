"""Review's own dependency providers."""
from __future__ import annotations

from common.web import WebPages


class ReviewPages(WebPages):
    """common.web's pages, whose templates also know intake's address: people sign in there (使用平台账号登录).

    The address is configuration (INTAKE_PUBLIC_URL), known only once the container starts, so it joins the
    templates' globals here rather than in the class attribute that declares the dependency.
    """

    def setup(self):
        super().setup()
        self.templates.env.globals["intake_url"] = str(self.container.config.get("INTAKE_PUBLIC_URL", "")).rstrip("/")
