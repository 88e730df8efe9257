"""Starting a node process: open the chain, serve the API, run the block driver until stopped.

A dev home (``node init --dev``) runs the single-authority ``DevDriver``; any other home runs
the BFT driver over the peer network, with the consensus WAL and the guarded signer. The
node key comes unlocked from the caller (the CLI asks for its password before the loop
starts); read-only queries run on the ``QueryRunner``'s threads, stopped before the store
closes.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import ssl

from aiohttp import web

from consensus.engine import Engine
from consensus.timeouts import TimeoutConfig
from node import admission
from node.api import Api
from node.bftdriver import BftDriver
from node.blockpolicy import BlockPolicy
from node.blocksync import BlockSync
from node.chain import Chain
from node.config import ConfigError, NodeConfig, NodeHome
from node.devdriver import DevDriver
from node.genesis import Genesis
from node.keys import KeyPair, address_of
from node.netaddr import parse_host_port
from node.p2p import PeerInfo, PeerNetwork
from node.queries import QueryLimits, QueryRunner
from node.service import NodeService
from node.signing import GuardedSigner
from node.tls import TlsError, server_context
from node.wal import ConsensusWal

log = logging.getLogger("flexledger.node")


async def _start_site(app: web.Application, listen: str, tls: ssl.SSLContext | None = None) -> web.AppRunner:
    endpoint = parse_host_port(listen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, endpoint.host, endpoint.port, ssl_context=tls).start()
    return runner


def _api_tls(config: NodeConfig) -> ssl.SSLContext | None:
    """Part B (links): the API's TLS context, None without api_tls_cert/api_tls_key; ConfigError naming the field."""
    if not (config.api_tls_cert or config.api_tls_key):
        return None
    try:
        return server_context(config.api_tls_cert, config.api_tls_key)
    except TlsError as exc:
        raise ConfigError(str(exc)) from None


def _bft_driver(home: NodeHome, config: NodeConfig, service: NodeService,
                key: KeyPair) -> tuple[BftDriver, PeerNetwork]:
    signer = GuardedSigner(key, home.signing_state_file)
    peer_addresses = {p["address"] for p in config.peers}
    chain = service.chain

    def allowed(public_key: bytes) -> bool:
        address = address_of(public_key)
        return (address in peer_addresses or chain.validators().by_address(address) is not None
                or admission.is_admitted(chain.state, address))  # part C: an observer's key admitted on chain

    driver: BftDriver | None = None
    network = PeerNetwork(chain.chain_id, key,
                          [PeerInfo(p["address"], parse_host_port(p["p2p"]).url) for p in config.peers],
                          allowed, lambda peer, kind, payload: driver.on_frame(peer, kind, payload))
    # The engine waits in new-height after each decision; the driver's policy says how long.
    engine = Engine(chain.chain_id, signer, TimeoutConfig(**config.timeouts, commit=config.block_time))
    policy = BlockPolicy(config.block_time, config.empty_blocks, config.empty_block_interval)
    driver = BftDriver(service, engine, key, network, ConsensusWal(home.wal_file), BlockSync(service, network),
                       policy=policy)
    service.isolate = network.isolate
    return driver, network


async def serve(home: NodeHome, key: KeyPair, config: NodeConfig | None = None) -> None:
    """Run the node of ``home``, signing with ``key`` (its node key, unlocked), until SIGINT or SIGTERM;
    ``config``: the home's config with the command line's overrides (None: the home's)."""
    config = config or home.load_config()
    api_tls = _api_tls(config)
    admin_token = home.load_admin_token()
    chain = Chain(home.data_dir, Genesis.load(home.genesis_file))
    service = NodeService(chain, config.mempool_capacity)
    queries = QueryRunner(chain, QueryLimits(config.query_gas_limit, config.query_timeout, config.query_workers,
                                             config.query_queue))
    sites: list[web.AppRunner] = []
    network: PeerNetwork | None = None
    driver: DevDriver | BftDriver | None = None
    try:
        if config.dev:
            driver = DevDriver(service, key, config.block_interval)
        else:
            driver, network = _bft_driver(home, config, service, key)
            p2p_app = web.Application()
            p2p_app.add_routes(network.routes())
            sites.append(await _start_site(p2p_app, config.p2p_listen))
            await network.start()
        api = Api(service, queries, admin_token)
        sites.append(await _start_site(api.app(), config.api_listen, api_tls))
        api_url = parse_host_port(config.api_listen).url
        log.info("node %s serving the API on %s at height %d", chain.chain_id,
                 api_url.replace("http://", "https://", 1) if api_tls else api_url, chain.height)
        await _run_until_signal(driver)
    finally:
        if network is not None:
            await network.stop()
        for site in sites:
            await site.cleanup()
        if isinstance(driver, BftDriver):
            driver.close()
        queries.close()
        chain.close()
        log.info("node stopped at height %d", chain.height)


async def _run_until_signal(driver) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(driver.run())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    running.cancel()
    stopping.cancel()
    if running in done and not running.cancelled() and running.exception():
        raise running.exception()
