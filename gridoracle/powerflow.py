"""AC power flow for many MTUs at once on pandapower's admittance matrix.

pandapower builds its internal model once (``Ybus``, the branch matrices ``Yf``/``Yt``,
the slack voltages) when :func:`gridoracle.feeder.load_feeder` runs its no-load power
flow; this module reuses exactly those matrices, so it solves the same equations as
``pandapower.runpp``. Per call it runs one Newton–Raphson over every MTU at once:

- the unknowns are the angle and magnitude of every PQ bus in every MTU; the Jacobians of
  all MTUs still iterating form one block-diagonal sparse matrix, built with one vectorised
  pass over the Ybus pattern and factorised once per iteration (SuperLU);
- each MTU starts from a given voltage (a warm start, e.g. the previous solution of the
  same MTU while curtailing) or from the no-load solution, and leaves the iteration as
  soon as its mismatch is below ``tol`` (p.u. on ``sn_mva``);
- MTUs whose injections equal an already-solved case (earlier in the call, or, for cold
  starts, in an earlier call: a bounded cache keyed by the exact injection bytes) are not
  solved again.

``model_id`` fingerprints what the solver computes with (element ids, feeders, the
admittance matrices, ratings, slack voltages): SHA-256 over their canonical encoding.

An MTU that does not converge within ``max_iter`` iterations, or diverges, is reported
with ``converged = False`` and NaN results: never an exception. ``mismatch_w`` then tells
which buses the last iterate could not balance.

Loading follows pandapower: a line's loading is the larger of its two end currents over
its rating; a transformer's (``trafo_loading="current"``) is the larger of its two end
currents times the rated voltage of that side, over its rated power.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from gridoracle.feeder import FeederModel
from node.encoding import encode, sha256


@dataclass(frozen=True)
class PowerFlowResult:
    """Results per MTU (rows) and element (columns, in model order)."""

    vm_pu: np.ndarray  # (T, buses)
    line_loading_pct: np.ndarray  # (T, lines)
    trafo_loading_pct: np.ndarray  # (T, trafos)
    converged: np.ndarray  # (T,) bool
    mismatch_w: np.ndarray  # (T, buses): |power mismatch| at the last iterate, W
    v: np.ndarray  # (T, internal buses) complex: the solution, for warm starts


@dataclass(frozen=True)
class Sensitivities:
    """Change per W of active injection at each requested bus (columns)."""

    vm_pu: np.ndarray  # (buses, K)
    line_loading_pct: np.ndarray  # (lines, K)
    trafo_loading_pct: np.ndarray  # (trafos, K)


class PowerFlow:
    """A reusable solver for one feeder model."""

    def __init__(self, model: FeederModel, *, tol: float = 1e-10, max_iter: int = 20,
                 cache_size: int = 4096) -> None:
        net = model.net
        internal = net._ppc["internal"]  # the model has no PV buses: feeder.py refuses generators
        self.tol, self.max_iter, self.cache_size = tol, max_iter, cache_size
        self.base_mva = float(internal["baseMVA"])
        self.ybus = sp.csr_matrix(internal["Ybus"])
        self.yf = sp.csr_matrix(internal["Yf"])
        self.yt = sp.csr_matrix(internal["Yt"])
        self.n = self.ybus.shape[0]
        self.pq = np.asarray(internal["pq"], dtype=np.int64)
        self.v_noload = np.asarray(internal["V"], dtype=np.complex128).copy()

        lookup = net._pd2ppc_lookups["bus"]
        self.bus_map = np.array([lookup[b.index] for b in model.buses], dtype=np.int64)
        # (model bus -> internal bus) aggregation for injections.
        self.aggregate = sp.csr_matrix(
            (np.ones(len(self.bus_map)), (np.arange(len(self.bus_map)), self.bus_map)),
            shape=(len(self.bus_map), self.n))

        branch = internal["branch"]
        base_kv = internal["bus"][:, 9].real  # BASE_KV
        f_bus = branch[:, 0].real.astype(np.int64)
        t_bus = branch[:, 1].real.astype(np.int64)
        branch_rows = np.cumsum(internal["branch_is"]) - 1
        lookups = net._pd2ppc_lookups["branch"]
        # loading in % = coef_from * |I_from| (p.u.) or coef_to * |I_to|, the larger.
        line_rows, line_cf, line_ct = [], [], []
        start = lookups.get("line", (0, 0))[0]
        for line in model.lines:
            pos = net.line.index.get_loc(line.index)
            row = branch_rows[start + pos]
            line_rows.append(row)
            scale = 100.0 * self.base_mva / np.sqrt(3) / line.rating_ka
            line_cf.append(scale / base_kv[f_bus[row]])
            line_ct.append(scale / base_kv[t_bus[row]])
        trafo_rows, trafo_cf, trafo_ct = [], [], []
        start = lookups.get("trafo", (0, 0))[0]
        for trafo in model.trafos:
            pos = net.trafo.index.get_loc(trafo.index)
            row = branch_rows[start + pos]
            trafo_rows.append(row)
            scale = 100.0 * self.base_mva / trafo.rating_mva
            trafo_cf.append(scale * net.trafo.at[trafo.index, "vn_hv_kv"] / base_kv[f_bus[row]])
            trafo_ct.append(scale * net.trafo.at[trafo.index, "vn_lv_kv"] / base_kv[t_bus[row]])
        self.line_rows = np.array(line_rows, dtype=np.int64)
        self.line_coef = np.array([line_cf, line_ct])
        self.trafo_rows = np.array(trafo_rows, dtype=np.int64)
        self.trafo_coef = np.array([trafo_cf, trafo_ct])

        self.ref = np.asarray(internal["ref"], dtype=np.int64)
        self.model_id = self._fingerprint(model)
        self._build_jacobian_pattern()
        self._cache: OrderedDict[bytes, tuple[np.ndarray, bool, np.ndarray]] = OrderedDict()

    def _fingerprint(self, model: FeederModel) -> str:
        """SHA-256 (hex) of everything the solver computes with: ids, matrices, ratings, slack."""
        def matrix(m: sp.csr_matrix) -> list[bytes]:
            m = m.copy()
            m.sum_duplicates()
            m.sort_indices()
            return [m.indptr.astype("<i8").tobytes(), m.indices.astype("<i8").tobytes(),
                    m.data.astype("<c16").tobytes()]

        record = ["flexledger-grid-model-v1", [b.id for b in model.buses], [line.id for line in model.lines],
                  [t.id for t in model.trafos], [b.feeder or "" for b in model.buses],
                  matrix(self.ybus), matrix(self.yf), matrix(self.yt),
                  self.v_noload[self.ref].astype("<c16").tobytes(), self.ref.astype("<i8").tobytes(),
                  self.bus_map.astype("<i8").tobytes(), self.line_rows.astype("<i8").tobytes(),
                  self.trafo_rows.astype("<i8").tobytes(), self.line_coef.astype("<f8").tobytes(),
                  self.trafo_coef.astype("<f8").tobytes(), repr(self.base_mva)]
        return sha256(encode(record)).hex()

    # ----------------------------------------------------------------- Jacobian
    def _build_jacobian_pattern(self) -> None:
        """Index structure of one MTU's Jacobian, reused for every MTU and iteration."""
        npq = len(self.pq)
        sub = self.ybus[self.pq][:, self.pq].tocoo()
        pattern = sp.coo_matrix((np.ones(sub.nnz), (sub.row, sub.col)), shape=(npq, npq))
        pattern = (pattern + sp.identity(npq, format="coo")).tocoo()  # every diagonal present
        rows, cols = pattern.row.astype(np.int64), pattern.col.astype(np.int64)
        self._jr, self._jc = rows, cols
        self._jy = np.asarray(self.ybus[self.pq[rows], self.pq[cols]]).ravel()
        self._jdiag = rows == cols
        nnz = len(rows)
        all_rows = np.concatenate([rows, rows, rows + npq, rows + npq])
        all_cols = np.concatenate([cols, cols + npq, cols, cols + npq])
        ids = sp.csc_matrix((np.arange(1, 4 * nnz + 1, dtype=np.float64), (all_rows, all_cols)),
                            shape=(2 * npq, 2 * npq))
        ids.sort_indices()
        self._jperm = ids.data.astype(np.int64) - 1
        self._jindices = ids.indices.astype(np.int64)
        self._jindptr = ids.indptr.astype(np.int64)

    def _jacobian(self, v: np.ndarray, i: np.ndarray) -> sp.csc_matrix:
        """Block-diagonal Jacobian for k MTUs (rows of ``v`` and ``i``, internal buses)."""
        k = v.shape[0]
        vp, ip = v[:, self.pq], i[:, self.pq]
        vi, vj = vp[:, self._jr], vp[:, self._jc]
        ii = ip[:, self._jr] * self._jdiag
        a = vi * np.conj(self._jy)
        ds_dvm = a * np.conj(vj / np.abs(vj)) + np.conj(ii) * vi / np.abs(vi)
        ds_dva = 1j * (vi * np.conj(ii) - a * np.conj(vj))
        values = np.concatenate([ds_dva.real, ds_dvm.real, ds_dva.imag, ds_dvm.imag], axis=1)
        m, nnz = 2 * len(self.pq), len(self._jperm)
        blocks = np.arange(k, dtype=np.int64)[:, None]
        indices = (self._jindices[None, :] + m * blocks).ravel()
        indptr = np.append((self._jindptr[:-1][None, :] + nnz * blocks).ravel(), k * nnz)
        return sp.csc_matrix((values[:, self._jperm].ravel(), indices, indptr), shape=(k * m, k * m))

    # ------------------------------------------------------------------- solving
    def _newton(self, s: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Newton–Raphson for k MTUs at once. Returns V, converged, |mismatch| (p.u.)."""
        v = v.copy()
        npq = len(self.pq)
        converged = np.zeros(len(s), dtype=bool)
        active = np.arange(len(s))
        mismatch = np.zeros(s.shape)
        for iteration in range(self.max_iter + 1):
            va, sa = v[active], s[active]
            i = (self.ybus @ va.T).T
            mis = va * np.conj(i) - sa
            mismatch[active[:, None], self.pq[None, :]] = np.abs(mis[:, self.pq])
            f = np.concatenate([mis[:, self.pq].real, mis[:, self.pq].imag], axis=1)
            norm = np.max(np.abs(f), axis=1) if npq else np.zeros(len(active))
            done = norm < self.tol
            converged[active[done]] = True
            keep = ~done & np.isfinite(norm)
            active, va, i, f = active[keep], va[keep], i[keep], f[keep]
            if not len(active) or iteration == self.max_iter:
                break
            dx = self._step(va, i, f)
            vm = np.abs(va[:, self.pq]) + dx[:, npq:]
            ang = np.angle(va[:, self.pq]) + dx[:, :npq]
            va[:, self.pq] = vm * np.exp(1j * ang)
            v[active] = va
        return v, converged, mismatch

    def _step(self, v: np.ndarray, i: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Newton step for k MTUs; an MTU whose Jacobian is singular gets NaN (diverged)."""
        m = 2 * len(self.pq)
        try:
            return splu(self._jacobian(v, i)).solve(-f.ravel()).reshape(len(v), m)
        except RuntimeError:  # some block is singular: solve block by block
            dx = np.full((len(v), m), np.nan)
            for row in range(len(v)):
                try:
                    dx[row] = splu(self._jacobian(v[row:row + 1], i[row:row + 1])).solve(-f[row])
                except RuntimeError:
                    pass
            return dx

    def solve(self, p_w: np.ndarray, q_var: np.ndarray, v0: np.ndarray | None = None) -> PowerFlowResult:
        """Solve every MTU (row) for active and reactive injections per model bus.

        Injections are positive into the grid (generation), in W and var. ``v0`` is an
        optional warm start per MTU (``PowerFlowResult.v`` of an earlier call). Only cold
        starts use the cache, so that a cold solve never depends on earlier calls.
        """
        s_model = (np.asarray(p_w, dtype=np.float64) + 1j * np.asarray(q_var, dtype=np.float64))
        s = (self.aggregate.T @ s_model.T).T * (1e-6 / self.base_mva)
        t = len(s)
        v = np.empty((t, self.n), dtype=np.complex128)
        converged = np.zeros(t, dtype=bool)
        mismatch = np.zeros((t, self.n))
        cache = self._cache if v0 is None else OrderedDict()
        todo: dict[bytes, list[int]] = {}
        for row, key in enumerate(row.tobytes() for row in s):
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                v[row], converged[row], mismatch[row] = hit
            else:
                todo.setdefault(key, []).append(row)
        if todo:
            first = np.array([rows[0] for rows in todo.values()], dtype=np.int64)
            start = np.tile(self.v_noload, (len(first), 1)) if v0 is None else np.asarray(v0)[first]
            v_new, conv_new, mis_new = self._newton(s[first], start)
            for n, (key, rows) in enumerate(todo.items()):
                v[rows], converged[rows], mismatch[rows] = v_new[n], conv_new[n], mis_new[n]
                cache[key] = (v_new[n].copy(), bool(conv_new[n]), mis_new[n].copy())
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        return self._results(v, converged, mismatch)

    def _results(self, v: np.ndarray, converged: np.ndarray, mismatch: np.ndarray) -> PowerFlowResult:
        i_from = np.abs(self.yf @ v.T).T
        i_to = np.abs(self.yt @ v.T).T
        line = np.maximum(i_from[:, self.line_rows] * self.line_coef[0],
                          i_to[:, self.line_rows] * self.line_coef[1])
        trafo = np.maximum(i_from[:, self.trafo_rows] * self.trafo_coef[0],
                           i_to[:, self.trafo_rows] * self.trafo_coef[1])
        vm = np.abs(v[:, self.bus_map])
        for array in (vm, line, trafo):
            array[~converged] = np.nan
        return PowerFlowResult(vm_pu=vm, line_loading_pct=line, trafo_loading_pct=trafo,
                               converged=converged, v=v,
                               mismatch_w=mismatch[:, self.bus_map] * self.base_mva * 1e6)

    # -------------------------------------------------------------- sensitivities
    def sensitivities(self, v: np.ndarray, buses: np.ndarray) -> Sensitivities:
        """Sensitivities at the solved voltage ``v`` (one MTU) to active power at model buses.

        Solves the power-flow Jacobian for a unit active injection at each bus (a bus
        merged into the slack has none), then maps the voltage change to bus voltage
        magnitudes and to line and transformer loadings (first order).
        """
        npq = len(self.pq)
        internal = self.bus_map[np.asarray(buses, dtype=np.int64)]
        where = np.full(self.n, -1, dtype=np.int64)
        where[self.pq] = np.arange(npq)
        rhs = np.zeros((2 * npq, len(internal)))
        for col, bus in enumerate(internal):
            if where[bus] >= 0:
                rhs[where[bus], col] = 1e-6 / self.base_mva
        i = self.ybus @ v
        dx = splu(self._jacobian(v[None, :], i[None, :])).solve(rhs)
        dv = np.zeros((self.n, len(internal)), dtype=np.complex128)
        dv[self.pq] = v[self.pq, None] * (1j * dx[:npq] + dx[npq:] / np.abs(v[self.pq, None]))
        i_from, i_to = self.yf @ v, self.yt @ v
        d_from = (np.conj(i_from)[:, None] * (self.yf @ dv)).real / np.maximum(np.abs(i_from), 1e-12)[:, None]
        d_to = (np.conj(i_to)[:, None] * (self.yt @ dv)).real / np.maximum(np.abs(i_to), 1e-12)[:, None]

        def loading(rows, coef):
            use_from = np.abs(i_from[rows]) * coef[0] >= np.abs(i_to[rows]) * coef[1]
            return np.where(use_from[:, None], d_from[rows] * coef[0][:, None], d_to[rows] * coef[1][:, None])

        dvm = (np.conj(v)[:, None] * dv).real / np.abs(v)[:, None]
        return Sensitivities(vm_pu=dvm[self.bus_map], line_loading_pct=loading(self.line_rows, self.line_coef),
                             trafo_loading_pct=loading(self.trafo_rows, self.trafo_coef))
