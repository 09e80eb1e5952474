"""Headless Chromium driven over the DevTools protocol through a pipe (--remote-debugging-pipe).

No chromedriver and no WebSocket: Chromium reads commands from its file descriptor 3 and writes
replies and events to descriptor 4, each message a JSON object followed by a NUL byte.
"""

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile


def log(*parts) -> None:
    print("chromium_peer:", *parts, file=sys.stderr, flush=True)


class CDPError(Exception):
    pass


class Chromium:
    """One headless Chromium process with one page; `evaluate` runs JavaScript in it."""

    def __init__(self, extra_args: list[str]):
        self.extra_args = extra_args
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.session: str | None = None
        self.bindings: dict[str, callable] = {}
        self.process: subprocess.Popen | None = None
        self.profile = tempfile.mkdtemp(prefix="chromium-peer-")
        self.closed = asyncio.Event()

    async def start(self) -> None:
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            raise CDPError("no chromium on PATH (Debian package 'chromium'; run Tools/bootstrap)")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        args = [binary, "--headless", "--no-sandbox", "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--metrics-recording-only",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio"] + self.extra_args + ["about:blank"]
        # Chromium wants the pipe on descriptors 3 and 4 exactly: let a shell put them there.
        shell = f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-'
        self.process = subprocess.Popen(["/bin/sh", "-c", shell, "sh"] + args,
                                        pass_fds=(to_chrome_r, from_chrome_w),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.profile, "chrome.log"), "wb"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.writer = os.fdopen(to_chrome_w, "wb", buffering=0)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_chrome_r, "rb", buffering=0))
        self.reader_task = asyncio.create_task(self._read(reader))
        version = await self.send("Browser.getVersion", session=False)
        log("started", version.get("product"))
        target = await self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        await self.send("Runtime.enable")
        await self.send("Page.enable")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                raw = await reader.readuntil(b"\0")
                message = json.loads(raw[:-1])
                if "id" in message:
                    future = self.pending.pop(message["id"], None)
                    if future and not future.done():
                        if "error" in message:
                            future.set_exception(CDPError(json.dumps(message["error"])))
                        else:
                            future.set_result(message.get("result", {}))
                    continue
                method, params = message.get("method"), message.get("params", {})
                if method == "Runtime.bindingCalled" and params.get("name") in self.bindings:
                    self.bindings[params["name"]](json.loads(params["payload"]))
                elif method == "Runtime.consoleAPICalled":
                    text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                    log("console:", text)
                elif method == "Runtime.exceptionThrown":
                    log("page exception:", json.dumps(params.get("exceptionDetails", {}))[:2000])
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(CDPError("chromium closed its pipe"))

    async def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        message_id = next(self.ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        future = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        self.writer.write(json.dumps(message).encode() + b"\0")
        return await future

    async def navigate(self, url: str) -> None:
        loaded = asyncio.get_running_loop().create_future()
        await self.send("Page.navigate", {"url": url})
        # Page.loadEventFired is not routed here; poll readiness instead (bounded).
        for _ in range(200):
            state = await self.evaluate("document.readyState + ':' + (typeof window.peer)")
            if state == "complete:object":
                return
            await asyncio.sleep(0.05)
        raise CDPError(f"page {url} did not load")

    async def bind(self, name: str, handler) -> None:
        """window[name](jsonString) in the page calls handler(parsed)."""
        self.bindings[name] = handler
        await self.send("Runtime.addBinding", {"name": name})

    async def evaluate(self, expression: str):
        result = await self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                      "returnByValue": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or json.dumps(details))
        return result.get("result", {}).get("value")

    async def close(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                await asyncio.wait_for(self.send("Browser.close", session=False), 5)
            except Exception:
                pass
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
