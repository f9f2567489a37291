//! A team of spinning helper threads for the trainers' per-step host work (gathering rows,
//! updating tables): a few hundred microseconds per step, split into parts that any member
//! takes from a shared counter.
//!
//! Written here rather than with rayon's `join` or `scope`: rayon's idle workers go to sleep
//! within microseconds, and waking one costs 15–40 µs on the project's 2-core VMs (measured),
//! as much as the work a step hands it. A member of this team spins while the jobs keep coming
//! and sleeps only after `SPIN` without one, so a trainer's steady stream of small jobs is
//! picked up at once, and a long pause (validation, a large batch's matrix products on rayon's
//! threads) leaves the cores to others.
//!
//! Results never depend on the team: every part is the same computation whichever member runs
//! it, and parts write disjoint data.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a member spins for the next job before it sleeps.
const SPIN: Duration = Duration::from_micros(30);

/// A job as the members see it: the parts' function, its lifetime erased (see [`Team::run`]).
type Job = *const (dyn Fn(usize) + Sync + 'static);

struct Shared {
    /// Bumped for every job; a member works when it sees a generation it has not done.
    generation: AtomicU64,
    /// The current job, valid while its generation's `run` waits.
    job: Mutex<Option<SendJob>>,
    /// The next part to take, and the part count of the current job.
    next: AtomicUsize,
    parts: AtomicUsize,
    /// Members done with the current generation.
    finished: AtomicUsize,
    panicked: AtomicBool,
    /// Members asleep on `wake`.
    sleeping: Mutex<usize>,
    wake: Condvar,
    stop: AtomicBool,
}

#[derive(Clone, Copy)]
struct SendJob(Job);
// SAFETY: the pointee is `Sync`; the pointer is only dereferenced while `Team::run`, which owns
// the closure, waits for every member to finish with it.
unsafe impl Send for SendJob {}

/// The caller plus `helpers` threads.
pub struct Team {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
}

impl Team {
    /// A team of `threads` members in all (the caller is one; `threads <= 1`: no helpers).
    pub fn new(threads: usize) -> Team {
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            job: Mutex::new(None),
            next: AtomicUsize::new(0),
            parts: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleeping: Mutex::new(0),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let helpers = (1..threads.max(1))
            .filter_map(|k| {
                let s = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("clickrec-team-{k}"))
                    .spawn(move || member(&s))
                    .ok()
            })
            .collect();
        Team { shared, helpers }
    }

    /// As many members as rayon's pool has threads (`RAYON_NUM_THREADS`, else the cores).
    pub fn from_rayon() -> Team {
        Team::new(rayon::current_num_threads())
    }

    /// Members, the caller included.
    pub fn size(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `f(0)`, …, `f(parts − 1)`, each once, on the caller and the helpers; returns when
    /// all are done. `first` runs on the caller before it takes parts (work that must stay on
    /// this thread, overlapped with the helpers' parts). A panic in a part is raised here.
    pub fn run<F: Fn(usize) + Sync>(&self, parts: usize, first: impl FnOnce(), f: F) {
        let s = &*self.shared;
        if self.helpers.is_empty() || parts <= 1 {
            first();
            (0..parts).for_each(f);
            return;
        }
        let job: &(dyn Fn(usize) + Sync) = &f;
        // SAFETY: only the lifetime is erased. Members dereference the pointer only between the
        // generation bump below and their `finished` increment, and this function does not
        // return (nor unwind: the caller's own work is caught) before every member is finished.
        let job: Job = unsafe { std::mem::transmute(job) };
        *lock(&s.job) = Some(SendJob(job));
        s.next.store(0, Ordering::Relaxed);
        s.parts.store(parts, Ordering::Relaxed);
        s.finished.store(0, Ordering::Relaxed);
        s.generation.fetch_add(1, Ordering::AcqRel);
        if *lock(&s.sleeping) > 0 {
            s.wake.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| {
            first();
            take_parts(s, &f);
        }));
        let helpers = self.helpers.len();
        while s.finished.load(Ordering::Acquire) < helpers {
            std::hint::spin_loop();
        }
        *lock(&s.job) = None;
        if let Err(p) = mine {
            resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::AcqRel) {
            panic!("a part of a team job panicked");
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        {
            let _g = lock(&self.shared.sleeping);
            self.shared.wake.notify_all();
        }
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes parts from the shared counter until none is left.
fn take_parts(s: &Shared, f: &(dyn Fn(usize) + Sync)) {
    let parts = s.parts.load(Ordering::Relaxed);
    loop {
        let k = s.next.fetch_add(1, Ordering::AcqRel);
        if k >= parts {
            break;
        }
        f(k);
    }
}

/// A helper's loop: spin for a new generation, sleep after [`SPIN`] without one.
fn member(s: &Shared) {
    let mut done = 0u64;
    loop {
        let mut since = Instant::now();
        let generation = loop {
            if s.stop.load(Ordering::Acquire) {
                return;
            }
            let g = s.generation.load(Ordering::Acquire);
            if g != done {
                break g;
            }
            if since.elapsed() < SPIN {
                std::hint::spin_loop();
                continue;
            }
            let mut asleep = lock(&s.sleeping);
            *asleep += 1;
            while s.generation.load(Ordering::Acquire) == done && !s.stop.load(Ordering::Acquire) {
                asleep = s
                    .wake
                    .wait_timeout(asleep, Duration::from_millis(50))
                    .map(|r| r.0)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            *asleep -= 1;
            since = Instant::now();
        };
        done = generation;
        let job = *lock(&s.job);
        if let Some(SendJob(job)) = job {
            // SAFETY: see `Team::run`: the closure outlives this use.
            let f = unsafe { &*job };
            if catch_unwind(AssertUnwindSafe(|| take_parts(s, f))).is_err() {
                s.panicked.store(true, Ordering::Release);
            }
        }
        s.finished.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_part_runs_once_whatever_the_team() {
        for threads in [1, 2, 3, 5] {
            let team = Team::new(threads);
            assert_eq!(team.size(), threads);
            for parts in [0, 1, 2, 7, 64] {
                let hits: Vec<AtomicU32> = (0..parts).map(|_| AtomicU32::new(0)).collect();
                let mut first = 0;
                team.run(
                    parts,
                    || first += 1,
                    |k| {
                        hits[k].fetch_add(1, Ordering::Relaxed);
                    },
                );
                assert_eq!(first, 1);
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                    "{threads} {parts}"
                );
            }
        }
    }

    #[test]
    fn parts_write_disjoint_slices_after_a_sleep() {
        let team = Team::new(2);
        let out: Vec<Mutex<Vec<u32>>> = (0..8).map(|_| Mutex::new(Vec::new())).collect();
        for round in 0..3u32 {
            // Long enough for the helper to fall asleep between rounds.
            std::thread::sleep(Duration::from_millis(2));
            team.run(8, || {}, |k| lock(&out[k]).push(round * 10 + k as u32));
        }
        for (k, v) in out.iter().enumerate() {
            let k = k as u32;
            assert_eq!(*lock(v), vec![k, 10 + k, 20 + k]);
        }
    }

    #[test]
    fn a_panicking_part_is_raised_on_the_caller_and_the_team_goes_on() {
        let team = Team::new(2);
        let r = catch_unwind(AssertUnwindSafe(|| {
            team.run(4, || {}, |k| assert!(k != 3, "part 3 fails"));
        }));
        assert!(r.is_err());
        let n = AtomicU32::new(0);
        team.run(
            4,
            || {},
            |_| {
                n.fetch_add(1, Ordering::Relaxed);
            },
        );
        assert_eq!(n.load(Ordering::Relaxed), 4);
    }
}
