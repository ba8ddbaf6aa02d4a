"""Green threads: fibers, the scheduler, channels, generators and I/O waits.

    fiber.py        a fiber: a heap object owning a frame stack; its states and waits
    scheduler.py    the FIFO run queue, timers, preemption budget, channels (Chan),
                    select, tasks, cancellation and deadlock reports
    generators.py   generators: a suspended frame spliced onto the caller's fiber
    io.py           readiness waits on file descriptors (selectors), stdin lines
    concurrency.py  the guest-visible side: Chan, sleep, yield_now, a parking input(),
                    task/channel/generator methods, BlockingNative

Every operation here works on the VM's explicit frame stacks at an instruction
boundary (a blocking call parks the fiber and raises `Switch` to the dispatch
loop); nothing recurses in Python or uses host threads. The package imports
runtime/ and heap/; the interpreter (vm/) drives it.
"""
