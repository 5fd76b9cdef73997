"""A small headless-Chromium driver for the page tests: the DevTools protocol over a pipe, no new dependency.

Chromium's `--remote-debugging-pipe` reads NUL-separated JSON commands on fd 3 and answers on fd 4, so
no port and no websocket client are needed. The driver opens a page from disk, evaluates JavaScript in
it (awaiting promises: that is how a test waits for a web component to render) and takes screenshots.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

# The flags this machine's closed network needs (without the background-networking ones Chromium keeps
# dialling out and logging refusals), and the ones a root user in a container needs (--no-sandbox; a small
# /dev/shm crashes renderers, hence --disable-dev-shm-usage).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-extensions",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """Chromium refused a command, died, or did not answer in time."""


def find_browser() -> str | None:
    """The first Chromium-like browser on PATH (CHROMIUM overrides), or None."""
    override = os.environ.get("CHROMIUM")
    if override:
        return shutil.which(override)
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, executable: str, *, width: int = 1400, height: int = 900, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self._profile = tempfile.TemporaryDirectory(prefix="killmatrix-chromium-")
        # A file, not a pipe: nobody reads Chromium's chatter while it runs, and a full pipe would block it.
        self._log = open(Path(self._profile.name) / "chromium.log", "w+b")  # noqa: SIM115
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # in the child, before exec: the protocol's fixed descriptors
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self._process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
            # close_fds=False: closing runs after preexec_fn and would close 3 and 4 again; every other
            # descriptor Python opens is non-inheritable (PEP 446) and closes at exec anyway.
            preexec_fn=wire_pipes, close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        self._session = None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except BrowserError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    # the protocol -------------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited: {self._log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _log_tail(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def send(self, method: str, *, session: bool = True, **params) -> dict:
        """Send one command and return its result, keeping the events that arrive meanwhile."""
        self._next_id += 1
        command = {"id": self._next_id, "method": method, "params": params}
        if session and self._session:
            command["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def _wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(i)
            self._events.append(self._read_message(deadline))

    # what a test does ---------------------------------------------------------------------------

    def open(self, path: Path) -> None:
        """Load a page from disk (file://) and wait for its load event: every inline script has run."""
        self._events.clear()
        self.send("Page.navigate", url=Path(path).resolve().as_uri())
        self._wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page; a promise is awaited."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, predicate: str, timeout_s: float = 20.0):
        """Poll a JavaScript expression every 50 ms until it is truthy; return its value."""
        message = json.dumps("not rendered: " + predicate[:120])
        return self.evaluate(f"""new Promise((resolve, reject) => {{
            const start = Date.now();
            const poll = () => {{
                let value = null;
                try {{ value = ({predicate}); }} catch (e) {{ value = null; }}
                if (value) resolve(value);
                else if (Date.now() - start > {timeout_s * 1000}) reject(new Error({message}));
                else setTimeout(poll, 50);
            }};
            poll();
        }})""")

    def screenshot(self, path: Path, *, full_page: bool = False, down_to: str | None = None) -> Path:
        """A PNG of the viewport, of the whole page (`full_page`), or of the page's top down to the last
        element matching the CSS selector `down_to`; written to `path`."""
        params: dict = {"format": "png"}
        if full_page or down_to:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            height = size["height"]
            if down_to:
                height = self.evaluate(f"Math.max(...[...document.querySelectorAll({json.dumps(down_to)})]"
                                       ".map(e => e.getBoundingClientRect().bottom + window.scrollY)) + 24")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": height, "scale": 1})
        data = self.send("Page.captureScreenshot", **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
