"""A loopback TCP proxy between the S3 client and the S3 server, run as its own process, that tests kill, restart
on the same port, or use to hold requests at a chosen point of a transfer (so a fault lands mid-way every time,
never by luck).

    python tests/remote/proxy.py LISTEN_PORT TARGET_PORT --log FILE [--stall REGEX:N] [--gather REGEX:N]

Every request line the client sends (``PUT /bucket/adapters/blobs/... HTTP/1.1``) is appended to ``--log`` as
``METHOD PATH`` once it has been forwarded. ``--stall REGEX:N`` forwards the first ``N`` requests whose line
matches, then forwards only the first half of the next one's bytes and nothing more on that connection, and
appends ``STALLED METHOD PATH`` to the log: the transfer hangs mid-request until the test kills the proxy or
the client. ``--gather REGEX:N`` holds each matching request until ``N`` of them are waiting, then forwards all
of them at once (racing writers reach the server together).

Plain asyncio and sockets: nothing here knows S3 beyond the shape of an HTTP/1.1 request line.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

REQUEST_LINE = re.compile(rb"(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP/1\.[01]\r\n")


class Gate:
    """A rule on request lines matching ``pattern``: ``count`` of them pass (stall) or are awaited (gather)."""

    def __init__(self, spec: str) -> None:
        pattern, _, count = spec.rpartition(":")
        self.pattern = re.compile(pattern)
        self.count = int(count)
        self.seen = 0
        self.arrived = asyncio.Event()

    def matches(self, line: str) -> bool:
        return bool(self.pattern.search(line))


class Proxy:
    def __init__(self, target_port: int, log: Path, stall: Gate | None, gather: Gate | None) -> None:
        self.target_port = target_port
        self.log = log
        self.stall = stall
        self.gather = gather

    def record(self, text: str) -> None:
        with self.log.open("a") as fh:
            fh.write(text + "\n")
            fh.flush()

    async def serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        back = asyncio.create_task(self.pipe(server_reader, client_writer))
        try:
            await self.forward(client_reader, server_writer)
        finally:
            await back
            client_writer.close()

    async def forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Client to server, looking at each request line as it passes."""
        while data := await reader.read(65536):
            for match in REQUEST_LINE.finditer(data):
                line = f"{match.group(1).decode()} {match.group(2).decode()}"
                if self.gather is not None and self.gather.matches(line):
                    self.gather.seen += 1
                    if self.gather.seen >= self.gather.count:
                        self.gather.arrived.set()
                    await self.gather.arrived.wait()
                if self.stall is not None and self.stall.matches(line):
                    self.stall.seen += 1
                    if self.stall.seen > self.stall.count:
                        writer.write(data[: max(match.start(), len(data) // 2)])
                        await writer.drain()
                        self.record(f"STALLED {line}")
                        await asyncio.Event().wait()  # until the proxy or the client is killed
                self.record(line)
            writer.write(data)
            await writer.drain()
        writer.close()

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Server to client, unchanged."""
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_port", type=int)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--stall", help="REGEX:N: pass N matching requests, hang in the middle of the next")
    parser.add_argument("--gather", help="REGEX:N: hold matching requests until N wait, then forward them")
    args = parser.parse_args()
    proxy = Proxy(
        args.target_port,
        args.log,
        Gate(args.stall) if args.stall else None,
        Gate(args.gather) if args.gather else None,
    )
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", args.listen_port, reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
