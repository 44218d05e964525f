"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no websocket library, no port).

Why a pipe: nothing listens on the network, and nothing beyond the standard library is needed. Chromium reads
NUL-terminated JSON commands on fd 3 and writes responses and events on fd 4. The page is loaded at a given
viewport width; console messages, uncaught exceptions, CSP refusals (``Log.entryAdded``) and every request the
page makes are recorded, so a test can assert there were none.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or (Path("/usr/bin/chromium").is_file() and "/usr/bin/chromium") or None
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
         "--disable-extensions", "--mute-audio", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe"]


class Browser:
    def __init__(self, profile: Path, timeout: float = 30.0) -> None:
        self.timeout = timeout
        cmd_r, cmd_w = os.pipe()
        ev_r, ev_w = os.pipe()
        hi_r, hi_w = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 100), fcntl.fcntl(ev_w, fcntl.F_DUPFD, 101)

        def child() -> None:
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=child, pass_fds=(hi_r, hi_w, 3, 4))
        for fd in (cmd_r, ev_w, hi_r, hi_w):
            os.close(fd)
        self.w, self.r = cmd_w, ev_r
        self.buf, self.next_id = b"", 0
        self.events: list[dict[str, Any]] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    # ------------------------------------------------------------------ protocol
    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe: " + (self.proc.stderr.read() or b"")[-2000:].decode())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_for(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            m = self._read(deadline)
            if m.get("method") == method:
                return m
            if "method" in m:
                self.events.append(m)

    # ------------------------------------------------------------------ page helpers
    def open(self, url: str, width: int, height: int = 900) -> None:
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=width <= 480)
        self.call("Page.navigate", session=True, url="about:blank")  # a fragment-only change would not reload
        self.wait_for("Page.loadEventFired")
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))", await_promise=True)

    def eval(self, expr: str, *, await_promise: bool = False) -> Any:
        res = self.call("Runtime.evaluate", session=True, expression=expr, returnByValue=True,
                        awaitPromise=await_promise)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluation failed: {res['exceptionDetails']}")
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path) -> None:
        h = int(self.eval("document.documentElement.scrollHeight"))
        w = int(self.eval("document.documentElement.clientWidth"))
        data = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": w, "height": min(h, 16000), "scale": 1})["data"]
        path.write_bytes(base64.b64decode(data))

    def problems(self) -> dict[str, list[str]]:
        """Console output, exceptions, CSP refusals and non-file requests recorded since the last ``open``."""
        self.call("Runtime.evaluate", session=True, expression="0")  # flush pending events
        console, requests = [], []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled":
                console.append(f"console.{p.get('type')}: {p.get('args')}")
            elif m == "Runtime.exceptionThrown":
                console.append(f"exception: {p.get('exceptionDetails')}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                console.append(f"log: {p['entry'].get('text')}")
            elif m == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:")):
                    requests.append(url)
        return {"console": console, "requests": requests}

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stderr:
            self.proc.stderr.close()


# Elements past the viewport's right edge, scroll containers whose content is wider than they are, and SVG texts
# outside their chart: each is something a reader cannot see without scrolling, or at all.
LAYOUT_JS = r"""(() => {
const W = document.documentElement.clientWidth, out = [];
const desc = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
  ' "' + (el.textContent || '').trim().slice(0, 60) + '"';
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('[hidden]') || el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.right > W + 1 || r.left < -1) out.push('past the viewport (' + Math.round(r.left) + '..' +
    Math.round(r.right) + ' of ' + W + '): ' + desc(el));
  const cs = getComputedStyle(el);
  if (['auto', 'scroll', 'hidden', 'clip'].includes(cs.overflowX) && el.scrollWidth > el.clientWidth + 1)
    out.push('clipped (' + el.scrollWidth + ' > ' + el.clientWidth + '): ' + desc(el));
}
for (const t of document.querySelectorAll('svg text')) {
  const s = t.ownerSVGElement.getBoundingClientRect(), r = t.getBoundingClientRect();
  if (r.width && (r.right > s.right + 1 || r.left < s.left - 1)) out.push('svg text outside its chart: ' + desc(t));
}
return {width: W, docWidth: document.documentElement.scrollWidth, offenders: out.slice(0, 25), n: out.length};
})()"""
