"""What one run measured, as plain dataclasses (written out as docs/benchmarks.json)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadPoint:
    contender: str
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    # CPU per served request of the contender's process tree and of the simulator,
    # and how busy the whole machine was: the evidence for or against contention.
    cpu_ms_per_request: float | None
    sim_cpu_ms_per_request: float
    machine_busy_pct: float


@dataclass(frozen=True)
class UpstreamCount:
    served: int
    token: int
    secret: int
    delete: int
    failed_answers: int

    @property
    def per_served(self) -> float:
        return (self.token + self.secret + self.delete) / self.served if self.served else float("nan")


@dataclass(frozen=True)
class Bulk:
    seconds: float  # median of the repeats
    delete_calls: int
    deleted: int
    http_status: int


@dataclass(frozen=True)
class Startup:
    cold_s: float  # median: process start to first answered request
    listen_s: float  # median: process start to the port accepting connections
    samples_s: list[float]


@dataclass(frozen=True)
class Memory:
    peak_pss_mib: float  # whole tree, sampled under load and during the 10,000-dnid request
    worker_hwm_mib: float  # the largest process's own RSS high-water mark
    tree_hwm_mib: float  # sum of RSS high-water marks: an upper bound that counts shared pages twice


@dataclass(frozen=True)
class Lookup:
    """One dry run resolving ``ids`` ids on the whole tenant (issue 14)."""

    concurrency: int  # CEC_LOOKUP_CONCURRENCY
    ids: int
    tenant_routes: int
    seconds: float
    query_calls: int
    planned: int
    http_status: int


@dataclass
class Profile:
    """The same function at another upstream latency: cold starts, lookups, throughput."""

    latency_ms: float
    secrets_latency_ms: float
    cold: dict[str, Startup] = field(default_factory=dict)
    secret_read_ms: float | None = None  # function-sm's first secret read, library import included
    lookups: list[Lookup] = field(default_factory=list)
    load: list[LoadPoint] = field(default_factory=list)


@dataclass
class Run:
    machine: dict[str, str]
    options: dict[str, object]
    load: list[LoadPoint] = field(default_factory=list)
    upstream: dict[str, UpstreamCount] = field(default_factory=dict)
    bulk: dict[str, Bulk] = field(default_factory=dict)
    memory: dict[str, Memory] = field(default_factory=dict)
    cold: dict[str, Startup] = field(default_factory=dict)
    import_ms: dict[str, float] = field(default_factory=dict)
    # function-sm's first secret read at the base latency (library import included).
    secret_read_ms: float | None = None
    profiles: list[Profile] = field(default_factory=list)

    def point(self, contender: str, concurrency: int) -> LoadPoint | None:
        return next((p for p in self.load if p.contender == contender and p.concurrency == concurrency), None)
