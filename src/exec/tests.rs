//! The graph runner's scheduling on synthetic graphs, observed through events, never wall time:
//! a node starts only after what it waits for succeeded; independent nodes overlap; a node does
//! not wait for unrelated slower nodes (no "levels"); the parallelism bound holds; a failure
//! skips exactly its dependents.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::{run_graph, Driver};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Start(usize),
    End(usize),
    Skip(usize),
}

type Work = Pin<Box<dyn Future<Output = bool> + Send>>;

/// A driver whose nodes' work is given by the test; it logs every event.
struct Recorder {
    log: Arc<Mutex<Vec<Event>>>,
    running: Arc<Mutex<(usize, usize)>>, // (now, most at once)
    work: Box<dyn FnMut(usize) -> Work + Send>,
    /// The nodes of each call to `start` that had any (one state write each, in the executor).
    batches: Arc<Mutex<Vec<Vec<usize>>>>,
    /// Stop (as on an interrupt) once this node has ended.
    stop_after: Option<usize>,
}

impl Recorder {
    fn new(work: impl FnMut(usize) -> Work + Send + 'static) -> Recorder {
        Recorder {
            log: Arc::default(),
            running: Arc::default(),
            work: Box::new(work),
            batches: Arc::default(),
            stop_after: None,
        }
    }
    fn events(&self) -> Vec<Event> {
        self.log.lock().unwrap().clone()
    }
    fn position(&self, e: Event) -> usize {
        self.events()
            .iter()
            .position(|x| *x == e)
            .unwrap_or_else(|| panic!("{e:?} never happened: {:?}", self.events()))
    }
}

impl Driver for Recorder {
    type Output = bool;
    type Error = ();

    async fn start(&mut self, ready: &[usize]) -> Result<Vec<Work>, ()> {
        if !ready.is_empty() {
            self.batches.lock().unwrap().push(ready.to_vec());
        }
        let mut works = Vec::new();
        for &i in ready {
            self.log.lock().unwrap().push(Event::Start(i));
            {
                let mut r = self.running.lock().unwrap();
                r.0 += 1;
                r.1 = r.1.max(r.0);
            }
            let work = (self.work)(i);
            let running = self.running.clone();
            works.push(Box::pin(async move {
                let ok = work.await;
                running.lock().unwrap().0 -= 1;
                ok
            }) as Work);
        }
        Ok(works)
    }

    fn finish(&mut self, ended: Vec<(usize, bool)>) -> Vec<bool> {
        ended
            .into_iter()
            .map(|(i, ok)| {
                self.log.lock().unwrap().push(Event::End(i));
                ok
            })
            .collect()
    }

    fn skip(&mut self, i: usize) {
        self.log.lock().unwrap().push(Event::Skip(i));
    }

    fn lost(&mut self, i: usize) {
        self.log.lock().unwrap().push(Event::End(i));
    }

    fn stopping(&self) -> bool {
        self.stop_after
            .is_some_and(|n| self.log.lock().unwrap().contains(&Event::End(n)))
    }
}

fn instant(ok: bool) -> Work {
    Box::pin(async move { ok })
}

/// Runs the graph, failing the test if it does not finish within a deadline (a scheduling
/// bug shows up as a deadlock of the work below).
async fn run(after: &[Vec<usize>], parallelism: usize, driver: &mut Recorder) {
    tokio::time::timeout(
        Duration::from_secs(20),
        run_graph(after, parallelism, driver),
    )
    .await
    .expect("the graph finished (no deadlock)")
    .expect("no driver error");
}

#[tokio::test]
async fn a_node_starts_only_after_what_it_waits_for() {
    // The example stack's shape: role → policy, function; bucket family beside it.
    //   0 role, 1 policy(0), 2 log group, 3 function(0,1,2), 4 api(3), 5 bucket, 6 cors(5)
    let after = vec![
        vec![],
        vec![0],
        vec![],
        vec![0, 1, 2],
        vec![3],
        vec![],
        vec![5],
    ];
    let mut d = Recorder::new(|_| {
        Box::pin(async {
            tokio::task::yield_now().await;
            true
        })
    });
    run(&after, 16, &mut d).await;
    for (i, deps) in after.iter().enumerate() {
        for &dep in deps {
            assert!(
                d.position(Event::End(dep)) < d.position(Event::Start(i)),
                "{i} started before {dep} ended: {:?}",
                d.events()
            );
        }
    }
    assert_eq!(d.events().len(), 2 * after.len());
}

#[tokio::test]
async fn independent_nodes_overlap() {
    // Three independent nodes: each waits until all three have started. Run one at a time,
    // this would never finish.
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let mut d = Recorder::new(move |_| {
        let b = barrier.clone();
        Box::pin(async move {
            b.wait().await;
            true
        })
    });
    run(&[vec![], vec![], vec![]], 16, &mut d).await;
    assert_eq!(d.running.lock().unwrap().1, 3, "all three ran at once");
}

#[tokio::test]
async fn a_node_does_not_wait_for_unrelated_slower_work() {
    // 0 slow, 1 fast, 2 after 1, 3 after 0. Node 0 only finishes once 2 has started: a runner
    // that waited for whole levels (0 and 1 before 2) would deadlock here.
    let two_started = Arc::new(Notify::new());
    let signal = two_started.clone();
    let mut d = Recorder::new(move |i| match i {
        0 => {
            let n = two_started.clone();
            Box::pin(async move {
                n.notified().await;
                true
            })
        }
        2 => {
            signal.notify_one();
            instant(true)
        }
        _ => instant(true),
    });
    run(&[vec![], vec![], vec![1], vec![0]], 16, &mut d).await;
    assert!(d.position(Event::Start(2)) < d.position(Event::End(0)));
    assert!(d.position(Event::End(0)) < d.position(Event::Start(3)));
}

#[tokio::test]
async fn the_parallelism_bound_holds() {
    let after = vec![vec![]; 8];
    let mut d = Recorder::new(|_| {
        Box::pin(async {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            true
        })
    });
    run(&after, 2, &mut d).await;
    assert_eq!(d.running.lock().unwrap().1, 2);
    assert_eq!(
        d.events()
            .iter()
            .filter(|e| matches!(e, Event::End(_)))
            .count(),
        8
    );
}

#[tokio::test]
async fn a_failure_skips_its_dependents_and_only_them() {
    // 0 fails; 1 after 0; 2 after 1 (transitively skipped); 3 independent; 4 after 3.
    let mut d = Recorder::new(|i| instant(i != 0));
    run(&[vec![], vec![0], vec![1], vec![], vec![3]], 16, &mut d).await;
    let events = d.events();
    assert!(events.contains(&Event::Skip(1)) && events.contains(&Event::Skip(2)));
    assert!(!events.contains(&Event::Start(1)) && !events.contains(&Event::Start(2)));
    assert!(
        events.contains(&Event::End(4)),
        "independent work finished: {events:?}"
    );
}

#[tokio::test]
async fn stopping_starts_nothing_more_but_lets_running_work_finish() {
    // 0 quick; 1 independent and still running when 0 ends; 2 after 0; 3 after 2.
    let log: Arc<Mutex<Vec<Event>>> = Arc::default();
    let seen = log.clone();
    let mut d = Recorder::new(move |i| {
        let seen = seen.clone();
        Box::pin(async move {
            if i == 1 {
                // Still running when the stop comes: it ends only after node 0 has.
                while !seen.lock().unwrap().contains(&Event::End(0)) {
                    tokio::task::yield_now().await;
                }
            }
            true
        })
    });
    d.log = log;
    d.stop_after = Some(0);
    run(&[vec![], vec![], vec![0], vec![2]], 16, &mut d).await;
    let events = d.events();
    assert!(
        events.contains(&Event::End(1)),
        "running work finished: {events:?}"
    );
    assert!(
        !events.contains(&Event::Start(2)) && !events.contains(&Event::Start(3)),
        "nothing started after the stop: {events:?}"
    );
    assert!(events.contains(&Event::Skip(2)) && events.contains(&Event::Skip(3)));
}

#[tokio::test]
async fn nodes_ready_together_start_in_one_batch() {
    // 0, 1, 2 independent; 3 and 4 after 0. The three roots are handed over at once (one state
    // write in the executor, not three); so are 3 and 4 when 0 ends.
    let mut d = Recorder::new(|_| instant(true));
    run(&[vec![], vec![], vec![], vec![0], vec![0]], 16, &mut d).await;
    let batches = d.batches.lock().unwrap().clone();
    assert_eq!(batches[0], vec![0, 1, 2], "{batches:?}");
    assert!(batches.contains(&vec![3, 4]), "{batches:?}");
    // With one slot, one at a time.
    let mut d = Recorder::new(|_| instant(true));
    run(&[vec![], vec![], vec![]], 1, &mut d).await;
    let batches = d.batches.lock().unwrap().clone();
    assert_eq!(batches, vec![vec![0], vec![1], vec![2]]);
}
