"""The embedded default: a private redis-server, the emulator and worker processes, for
`rtq demo`, the test suite and the benchmarks. Never touches the machine's Redis on 6379.

    servers.py  RedisServer and WorkerProcess: real processes on free ports
    demo.py     `rtq demo`: the main job end to end
"""
