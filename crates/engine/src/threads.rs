//! Threads: how many `Options::threads` means, a map over items on them, and work
//! run beside the caller's.

/// The threads `threads` asks for: 0 means one per core.
pub(crate) fn count(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// `f` over `items` on `threads` threads (0: one per core), results in item order.
pub(crate) fn par_map<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = count(threads);
    // Below this many items a thread costs more than it saves.
    const MIN_PER_THREAD: usize = 256;
    let threads = threads.min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles.into_iter().flat_map(join).collect()
    })
}

/// A scoped thread's result; should the thread panic, the panic goes on in the caller.
pub(crate) fn join<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Work started beside the caller's: on a thread of `scope`, or done at once when
/// `threads` asks for one thread.
pub(crate) enum Beside<'scope, T> {
    Thread(std::thread::ScopedJoinHandle<'scope, T>),
    Done(T),
}

impl<'scope, T: Send + 'scope> Beside<'scope, T> {
    pub(crate) fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        threads: usize,
        f: impl FnOnce() -> T + Send + 'scope,
    ) -> Self {
        if count(threads) > 1 {
            Beside::Thread(scope.spawn(f))
        } else {
            Beside::Done(f())
        }
    }

    /// The result, once the work is done.
    pub(crate) fn finish(self) -> T {
        match self {
            Beside::Thread(thread) => join(thread),
            Beside::Done(result) => result,
        }
    }
}
