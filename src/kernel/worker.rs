//! A driver worker: one thread that runs a job each time it is woken, for
//! the software engine (`crate::engine`). [`Worker::wake`] may be called at
//! up to DISPATCH_LEVEL: it sets an event (Windows: `KeSetEvent` with
//! `Wait = FALSE`; host: `Thread::unpark`), never allocates, never waits.
//!
//! | platform | thread | wake |
//! |---|---|---|
//! | Windows | `PsCreateSystemThread`, joined by `ZwWaitForSingleObject` + `ZwClose` | a synchronization `KEVENT` |
//! | host | `std::thread` | `Thread::unpark` |

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::foundation::status::Result;

/// The work a worker runs each time it is woken.
pub(crate) trait WorkerJob: Send + Sync {
    /// Runs whatever is pending (PASSIVE_LEVEL).
    fn run(&self);
}

/// State the worker thread and its owner share.
struct Shared {
    job: Arc<dyn WorkerJob>,
    stop: AtomicBool,
    #[cfg(target_os = "windows")]
    event: core::cell::UnsafeCell<os::KEVENT>,
}

// SAFETY: the KEVENT is only touched through the kernel's own synchronised
// routines (KeSetEvent / KeWaitForSingleObject), which allow concurrent use.
#[cfg(target_os = "windows")]
unsafe impl Sync for Shared {}

/// A running worker; stopping it (or dropping it) joins the thread.
pub(crate) struct Worker {
    shared: Arc<Shared>,
    #[cfg(not(target_os = "windows"))]
    thread: Option<std::thread::JoinHandle<()>>,
    #[cfg(target_os = "windows")]
    thread: os::HANDLE,
}

#[cfg(not(target_os = "windows"))]
impl Worker {
    /// Starts a worker running `job` (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `InsufficientResources` when no thread can be created.
    pub(crate) fn spawn(job: Arc<dyn WorkerJob>) -> Result<Self> {
        let shared = Arc::new(Shared {
            job,
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("gpup-engine".into())
            .spawn(move || {
                while !s.stop.load(Ordering::SeqCst) {
                    s.job.run();
                    std::thread::park_timeout(std::time::Duration::from_millis(50));
                }
                s.job.run();
            })
            .map_err(|_| crate::foundation::status::Status::InsufficientResources)?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Wakes the worker. Lock- and allocation-free.
    pub(crate) fn wake(&self) {
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    fn join(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(target_os = "windows")]
#[allow(non_snake_case, non_camel_case_types, clippy::upper_case_acronyms)]
mod os {
    use core::ffi::c_void;

    use dxgk_sys::{BOOLEAN, LARGE_INTEGER, NTSTATUS, PVOID};

    pub(super) type HANDLE = *mut c_void;

    /// `KEVENT` (24 bytes on x64), initialised by `KeInitializeEvent`.
    #[repr(C, align(8))]
    pub(super) struct KEVENT(pub(super) [u8; 24]);

    /// `SynchronizationEvent`.
    pub(super) const SYNCHRONIZATION_EVENT: i32 = 1;
    /// `THREAD_ALL_ACCESS`.
    pub(super) const THREAD_ALL_ACCESS: u32 = 0x001F_FFFF;

    unsafe extern "system" {
        pub(super) fn KeInitializeEvent(Event: *mut KEVENT, Type: i32, State: BOOLEAN);
        pub(super) fn KeSetEvent(Event: *mut KEVENT, Increment: i32, Wait: u8) -> i32;
        pub(super) fn KeWaitForSingleObject(
            Object: PVOID,
            WaitReason: i32,
            WaitMode: i8,
            Alertable: BOOLEAN,
            Timeout: *mut LARGE_INTEGER,
        ) -> NTSTATUS;
        pub(super) fn PsCreateSystemThread(
            ThreadHandle: *mut HANDLE,
            DesiredAccess: u32,
            ObjectAttributes: *mut c_void,
            ProcessHandle: HANDLE,
            ClientId: *mut c_void,
            StartRoutine: unsafe extern "system" fn(*mut c_void),
            StartContext: *mut c_void,
        ) -> i32;
        pub(super) fn ZwWaitForSingleObject(
            Handle: HANDLE,
            Alertable: u8,
            Timeout: *mut i64,
        ) -> i32;
        pub(super) fn ZwClose(Handle: HANDLE) -> i32;
    }
}

/// The Windows thread's routine: waits on the event, runs the job, until stopped.
///
/// # Safety
/// `context` is the `Shared` that [`Worker::spawn`] leaked one `Arc`
/// reference of for this thread.
#[cfg(target_os = "windows")]
unsafe extern "system" fn worker_main(context: *mut core::ffi::c_void) {
    // SAFETY: `context` is the pointer `Arc::into_raw` gave for this thread's
    // own reference (this function's contract), reclaimed exactly once here.
    let shared = unsafe { Arc::from_raw(context.cast_const().cast::<Shared>()) };
    while !shared.stop.load(Ordering::SeqCst) {
        // Wakes at least every 50 ms, so a stop never waits on a lost wake.
        let mut timeout = dxgk_sys::LARGE_INTEGER { QuadPart: -500_000 };
        // SAFETY: the event was initialised by `spawn` and lives as long as
        // `shared`; Executive wait, KernelMode, not alertable; PASSIVE_LEVEL.
        unsafe {
            os::KeWaitForSingleObject(shared.event.get().cast(), 0, 0, 0, &raw mut timeout);
        }
        shared.job.run();
    }
    shared.job.run();
}

#[cfg(target_os = "windows")]
impl Worker {
    /// Starts a worker running `job` (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `InsufficientResources` when no thread can be created.
    pub(crate) fn spawn(job: Arc<dyn WorkerJob>) -> Result<Self> {
        let shared = Arc::new(Shared {
            job,
            stop: AtomicBool::new(false),
            event: core::cell::UnsafeCell::new(os::KEVENT([0; 24])),
        });
        // SAFETY: the event is in non-paged pool memory owned by `shared`,
        // initialised once before any thread can see it.
        unsafe { os::KeInitializeEvent(shared.event.get(), os::SYNCHRONIZATION_EVENT, 0) };
        let context = Arc::into_raw(Arc::clone(&shared)).cast_mut().cast();
        let mut thread: os::HANDLE = core::ptr::null_mut();
        // SAFETY: every pointer is valid or NULL as the routine allows; the
        // routine takes over the reference `context` carries.
        let status = unsafe {
            os::PsCreateSystemThread(
                &raw mut thread,
                os::THREAD_ALL_ACCESS,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                worker_main,
                context,
            )
        };
        if status < 0 {
            // SAFETY: no thread took the reference: reclaim it.
            drop(unsafe { Arc::from_raw(context.cast_const().cast::<Shared>()) });
            return Err(crate::foundation::status::Status::InsufficientResources);
        }
        Ok(Self { shared, thread })
    }

    /// Wakes the worker (up to DISPATCH_LEVEL). Lock- and allocation-free.
    pub(crate) fn wake(&self) {
        // SAFETY: the event is initialised and outlives the call; Wait FALSE
        // is allowed at up to DISPATCH_LEVEL.
        unsafe { os::KeSetEvent(self.shared.event.get(), 0, 0) };
    }

    fn join(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if self.thread.is_null() {
            return;
        }
        self.wake();
        // SAFETY: `thread` is the handle PsCreateSystemThread gave, not yet
        // closed; an unbounded wait at PASSIVE_LEVEL for the thread to end.
        unsafe { os::ZwWaitForSingleObject(self.thread, 0, core::ptr::null_mut()) };
        // SAFETY: the same handle, closed once (then forgotten).
        unsafe { os::ZwClose(self.thread) };
        self.thread = core::ptr::null_mut();
    }
}

impl Worker {
    /// Stops the worker after a last run of its job, and joins it.
    pub(crate) fn stop(mut self) {
        self.join();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.join();
    }
}

// SAFETY: the thread handle is an opaque kernel handle usable from any
// thread; `shared` is `Sync` (see above).
#[cfg(target_os = "windows")]
unsafe impl Send for Worker {}
// SAFETY: as above; `wake` only calls KeSetEvent.
#[cfg(target_os = "windows")]
unsafe impl Sync for Worker {}
