"""Starting a node process: open the chain, serve the API, run the block driver until stopped."""
from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from node.api import Api
from node.chain import Chain
from node.config import NodeHome
from node.devdriver import DevDriver
from node.genesis import Genesis
from node.service import NodeService

log = logging.getLogger("flexledger.node")


async def serve(home: NodeHome, block_interval: float | None = None, port: int | None = None) -> None:
    config = home.load_config()
    if not config.dev:
        raise SystemExit("this node home is not a dev node; multi-validator nodes start with the consensus driver")
    chain = Chain(home.data_dir, Genesis.load(home.genesis_file))
    service = NodeService(chain, config.mempool_capacity)
    driver = DevDriver(service, home.load_key(), block_interval or config.block_interval)
    runner = web.AppRunner(Api(service, config.query_gas_limit).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.api_host, port or config.api_port)
    await site.start()
    log.info("node %s serving on http://%s:%d at height %d", chain.chain_id, config.api_host,
             port or config.api_port, chain.height)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    producing = asyncio.create_task(driver.run())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({producing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    producing.cancel()
    await runner.cleanup()
    chain.close()
    if producing in done and producing.exception():
        raise producing.exception()
    log.info("node stopped at height %d", chain.height)
