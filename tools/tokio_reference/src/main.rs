// The issues' tokio / futures-rs reference figures, re-measured on this
// machine so weft's figures can be compared as ratios from the same window
// (tools/tokio_reference/README.md). Each case mirrors one weft benchmark's
// shape; the name says which. Output: one line per case,
//   <case> <median> ns/<unit> (min <min>, max <max>, <rounds> rounds)
// Usage: tokio_reference [rounds] [case-substring]

use std::time::Instant;

fn median(v: &mut Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let med = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    (med, v[0], v[n - 1])
}

// Each round repeats `f` until at least this long has passed, as Google
// Benchmark's default minimum time does for weft's side.
const MIN_ROUND: std::time::Duration = std::time::Duration::from_millis(500);

// Runs `f` (which does `items` operations and returns a checksum that must
// equal `items`) once to warm up, then `rounds` rounds of at least MIN_ROUND
// each (wall time); prints ns per item.
fn case(name: &str, unit: &str, rounds: usize, items: u64, mut f: impl FnMut() -> u64) {
    let filter = std::env::args().nth(2).unwrap_or_default();
    if !name.contains(&filter) {
        return;
    }
    assert_eq!(f(), items, "{name}: checksum");
    let mut v = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut runs = 0u64;
        while runs == 0 || t.elapsed() < MIN_ROUND {
            let got = f();
            assert_eq!(got, items, "{name}: checksum");
            runs += 1;
        }
        v.push(t.elapsed().as_nanos() as f64 / (items * runs) as f64);
    }
    let (med, min, max) = median(&mut v);
    println!("{name:<44} {med:8.1} ns/{unit} (min {min:.1}, max {max:.1}, {rounds} rounds)");
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).build().unwrap()
}

fn rss_bytes() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let resident: i64 = s.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    resident * 4096
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|x| x.parse().ok()).unwrap_or(7);

    // executor: BM_SpawnJoinSequential (local_benchmark): spawn an empty
    // task and await it, one at a time, inside block_on.
    {
        let rt = current_thread();
        const N: u64 = 10_000;
        case("spawn_join_sequential/current_thread", "task", rounds, N, || {
            rt.block_on(async {
                let mut done = 0;
                for _ in 0..N {
                    tokio::spawn(async {}).await.unwrap();
                    done += 1;
                }
                done
            })
        });
    }

    // executor: BM_PoolSpawnJoinBatchFromOutside (thread_pool_benchmark):
    // 1000 empty tasks spawned from outside the workers, then all joined.
    for workers in [1usize, 2] {
        let rt = multi_thread(workers);
        const N: u64 = 1000;
        const REPS: u64 = 100;
        case(&format!("spawn_join_batch_1000/workers:{workers}"), "task", rounds, N * REPS, || {
            let mut done = 0;
            for _ in 0..REPS {
                let hs: Vec<_> = (0..N).map(|_| rt.spawn(async {})).collect();
                rt.block_on(async {
                    for h in hs {
                        h.await.unwrap();
                        done += 1;
                    }
                });
            }
            done
        });
    }

    // executor: BM_YieldPingPong (local_benchmark): two tasks that yield to
    // each other; per yield. tokio::task::yield_now and futures' LocalPool.
    {
        let rt = current_thread();
        const N: u64 = 100_000;
        case("yield_ping_pong/current_thread", "yield", rounds, 2 * N, || {
            rt.block_on(async {
                let a = tokio::spawn(async {
                    for _ in 0..N {
                        tokio::task::yield_now().await;
                    }
                    N
                });
                let b = tokio::spawn(async {
                    for _ in 0..N {
                        tokio::task::yield_now().await;
                    }
                    N
                });
                a.await.unwrap() + b.await.unwrap()
            })
        });
    }
    {
        use futures::task::LocalSpawnExt;
        const N: u64 = 100_000;
        // A yield that wakes itself once: futures-rs has no yield_now.
        struct YieldOnce(bool);
        impl std::future::Future for YieldOnce {
            type Output = ();
            fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
                if self.0 {
                    return std::task::Poll::Ready(());
                }
                self.0 = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
        // Detached tasks, as weft's: a RemoteHandle would add its own
        // cancellation check (atomics, a lock) to every poll.
        case("yield_ping_pong/futures_local_pool", "yield", rounds, 2 * N, || {
            let mut pool = futures::executor::LocalPool::new();
            let sp = pool.spawner();
            let done = std::rc::Rc::new(std::cell::Cell::new(0u64));
            for _ in 0..2 {
                let done = done.clone();
                sp.spawn_local(async move {
                    for _ in 0..N {
                        YieldOnce(false).await;
                    }
                    done.set(done.get() + N);
                })
                .unwrap();
            }
            pool.run();
            done.get()
        });
    }

    // executor: BM_MemoryPerParkedTask (local_benchmark): RSS per task of
    // 1M tasks parked on a never-ready future, each polled once.
    {
        let filter = std::env::args().nth(2).unwrap_or_default();
        if "memory_per_parked_task/current_thread".contains(&filter) {
            const N: usize = 1_000_000;
            let rt = current_thread();
            let before = rss_bytes();
            let hs: Vec<_> = rt.block_on(async {
                let hs: Vec<_> = (0..N).map(|_| tokio::spawn(std::future::pending::<()>())).collect();
                // The run queue is FIFO: once a task spawned last has run,
                // every parked task has been polled once.
                let (tx, rx) = tokio::sync::oneshot::channel();
                tokio::spawn(async move {
                    let _ = tx.send(());
                });
                rx.await.unwrap();
                hs
            });
            let after = rss_bytes();
            // The JoinHandles (8 bytes each) are in the figure: subtract them.
            let per = (after - before) as f64 / N as f64 - std::mem::size_of_val(&hs[0]) as f64;
            // Includes tokio's run queue (grown to hold 1M tasks, ~8 B each):
            // a real cost of its design (weft's queue is intrusive).
            println!("{:<44} {per:8.1} bytes/task (RSS, JoinHandle vector subtracted)", "memory_per_parked_task/current_thread");
            drop(hs);
            drop(rt);
        }
    }

    // channels: BM_Mpsc_{Bounded,Unbounded}_{Local,Pool2} (mpsc_benchmark):
    // 200000 i64 through one channel, 1 producer task, 1 consumer task
    // summing; bounded capacity 1024.
    const MSGS: u64 = 200_000;
    // The consumer's loop: counts and sums what `$next` yields until the
    // channel ends; the sum must be 0 + 1 + ... + (MSGS - 1).
    macro_rules! consume {
        ($next:expr) => {{
            let (mut n, mut sum) = (0u64, 0u64);
            while let Some(v) = $next.await {
                n += 1;
                sum += v;
            }
            assert_eq!(sum, MSGS * (MSGS - 1) / 2);
            n
        }};
    }
    for (label, rt) in [("current_thread", current_thread()), ("workers:2", multi_thread(2))] {
        case(&format!("mpsc_bounded_1p1c/{label}"), "msg", rounds, MSGS, || {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1024);
                let p = tokio::spawn(async move {
                    for i in 0..MSGS {
                        tx.send(i).await.unwrap();
                    }
                });
                let c = tokio::spawn(async move { consume!(rx.recv()) });
                p.await.unwrap();
                c.await.unwrap()
            })
        });
        case(&format!("mpsc_unbounded_1p1c/{label}"), "msg", rounds, MSGS, || {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                // Yields every 128 sends, as weft's producer does (its
                // budget), so the queue stays short on both sides.
                let p = tokio::spawn(async move {
                    for i in 0..MSGS {
                        tx.send(i).unwrap();
                        if i % 128 == 127 {
                            tokio::task::yield_now().await;
                        }
                    }
                });
                let c = tokio::spawn(async move { consume!(rx.recv()) });
                p.await.unwrap();
                c.await.unwrap()
            })
        });
    }
    // futures-rs mpsc (bounded 1024) on its LocalPool.
    {
        use futures::{SinkExt, StreamExt};
        use futures::task::LocalSpawnExt;
        case("mpsc_bounded_1p1c/futures_local_pool", "msg", rounds, MSGS, || {
            let mut pool = futures::executor::LocalPool::new();
            let (mut tx, mut rx) = futures::channel::mpsc::channel::<u64>(1024);
            pool.spawner()
                .spawn_local(async move {
                    for i in 0..MSGS {
                        tx.send(i).await.unwrap();
                    }
                })
                .unwrap();
            // The consumer is a spawned task too, as weft's.
            let received = std::rc::Rc::new(std::cell::Cell::new(0u64));
            let r = received.clone();
            pool.spawner().spawn_local(async move { r.set(consume!(rx.next())) }).unwrap();
            pool.run();
            received.get()
        });
    }

    // channels: BM_RequestReply* (oneshot_benchmark) = tokio's own
    // request_reply benchmark: the client sends a fresh oneshot sender
    // through a bounded(10) mpsc; the server answers through it.
    const RT: u64 = 1000;
    const RT_REPS: u64 = 20;
    for (label, rt) in [("current_thread", current_thread()), ("workers:2", multi_thread(2))] {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(10);
        rt.spawn(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(());
            }
        });
        case(&format!("oneshot_request_reply/{label}"), "round_trip", rounds, RT * RT_REPS, || {
            let mut answered = 0;
            for _ in 0..RT_REPS {
                let tx = tx.clone();
                let client = async move {
                        let mut answered = 0u64;
                        for _ in 0..RT {
                            let (o_tx, o_rx) = tokio::sync::oneshot::channel();
                            tx.send(o_tx).await.unwrap();
                            if o_rx.await.is_ok() {
                                answered += 1;
                            }
                        }
                        answered
                };
                // As weft's: on the local executor the client is block_on's
                // own future; on the pool it is a spawned task.
                answered += if label == "current_thread" {
                    rt.block_on(client)
                } else {
                    rt.block_on(rt.spawn(client)).unwrap()
                };
            }
            answered
        });
    }
}
