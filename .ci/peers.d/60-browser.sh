# examples/livedemo: install the page's dash.js and the playwright-core that
# drives chromium in TestDashJSInChromium, exactly as package-lock.json pins
# them. node_modules is not committed; npm ci fetches it from the npm
# registry. Nothing is started, so there is nothing to stop.
if command -v npm >/dev/null 2>&1; then
	(cd examples/livedemo && npm ci --no-audit --no-fund --loglevel=error)
else
	echo "npm missing: TestDashJSInChromium will fail (EDGEKIT_REQUIRE_PEERS=1)" >&2
fi
