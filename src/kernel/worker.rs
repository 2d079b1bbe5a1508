//! A driver worker: one system thread that runs a job each time it is
//! woken, for the software engine (`crate::engine`, `ddi::engine_table`).
//!
//! The job owns a [`Signal`] (at a stable address, with the job); the
//! thread ([`Thread`]) runs `J::run` on every wake and once more when
//! stopped. [`Signal::wake`] may be called at up to DISPATCH_LEVEL: it sets
//! an event and returns; no allocation, no lock, no wait. Everything is
//! generic over the job: no indirect call (the image's stack check follows
//! every call).
//!
//! | platform | thread | wake |
//! |---|---|---|
//! | Windows | `PsCreateSystemThread`; joined by `ZwWaitForSingleObject` + `ZwClose` | a synchronization `KEVENT` (`KeSetEvent`, `Wait = FALSE`) |
//! | host | `pthread_create` (std's spawn aborts when allocation fails), joined with `pthread_join` | `Thread::unpark` of the worker's own `std::thread::current()` |
//!
//! The thread also wakes by itself every 50 ms, so a lost wake delays work
//! by that much at most.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::foundation::status::{Result, Status};

/// The work a worker runs each time it is woken.
pub(crate) trait WorkerJob: Sync {
    /// The job's signal.
    fn signal(&self) -> &Signal;
    /// Runs whatever is pending (PASSIVE_LEVEL).
    fn run(&self);
}

/// How the owner and the thread talk: the stop flag and the wake event.
pub(crate) struct Signal {
    stop: AtomicBool,
    #[cfg(not(target_os = "windows"))]
    thread: std::sync::OnceLock<std::thread::Thread>,
    #[cfg(target_os = "windows")]
    event: core::cell::UnsafeCell<os::KEVENT>,
}

// SAFETY: the KEVENT is only touched through the kernel's synchronised
// routines (KeInitializeEvent once before sharing, then KeSetEvent and
// KeWaitForSingleObject, which allow concurrent use).
#[cfg(target_os = "windows")]
unsafe impl Sync for Signal {}
// SAFETY: as above; the event is plain memory until initialised in place.
#[cfg(target_os = "windows")]
unsafe impl Send for Signal {}

/// A thread running a job; [`Thread::stop`] joins it.
pub(crate) struct Thread {
    #[cfg(not(target_os = "windows"))]
    handle: Option<usize>,
    #[cfg(target_os = "windows")]
    handle: os::HANDLE,
}

// SAFETY: a kernel thread handle may be used from any thread.
#[cfg(target_os = "windows")]
unsafe impl Send for Thread {}
// SAFETY: as above; `&Thread` gives no access to the handle.
#[cfg(target_os = "windows")]
unsafe impl Sync for Thread {}

impl Signal {
    /// A signal not yet usable on Windows until [`Signal::init`].
    pub(crate) fn new() -> Self {
        Self {
            stop: AtomicBool::new(false),
            #[cfg(not(target_os = "windows"))]
            thread: std::sync::OnceLock::new(),
            #[cfg(target_os = "windows")]
            event: core::cell::UnsafeCell::new(os::KEVENT([0; 24])),
        }
    }

    /// Initialises the event at its final address (before the signal is shared).
    pub(crate) fn init(&mut self) {
        #[cfg(target_os = "windows")]
        // SAFETY: `self` is exclusively borrowed, at its final address
        // (the caller's heap block), and the event is initialised once.
        unsafe {
            os::KeInitializeEvent(self.event.get(), os::SYNCHRONIZATION_EVENT, 0);
        }
    }

    /// Wakes the thread (up to DISPATCH_LEVEL). Lock- and allocation-free.
    pub(crate) fn wake(&self) {
        #[cfg(not(target_os = "windows"))]
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
        #[cfg(target_os = "windows")]
        // SAFETY: the event was initialised (`init`) and lives as long as
        // `self`; `Wait = FALSE` is allowed at up to DISPATCH_LEVEL.
        unsafe {
            os::KeSetEvent(self.event.get(), 0, 0);
        }
    }

    /// Waits for a wake or 50 ms (the thread; PASSIVE_LEVEL).
    fn sleep(&self) {
        #[cfg(not(target_os = "windows"))]
        std::thread::park_timeout(std::time::Duration::from_millis(50));
        #[cfg(target_os = "windows")]
        {
            let mut timeout = dxgk_sys::LARGE_INTEGER { QuadPart: -500_000 };
            // SAFETY: an initialised event living as long as `self`;
            // Executive wait, KernelMode, not alertable, at PASSIVE_LEVEL.
            unsafe {
                os::KeWaitForSingleObject(self.event.get().cast(), 0, 0, 0, &raw mut timeout);
            }
        }
    }
}

/// The thread's loop: runs the job on every wake until stopped, then once more.
fn run_loop<J: WorkerJob>(job: &J) {
    let signal = job.signal();
    while !signal.stop.load(Ordering::SeqCst) {
        job.run();
        signal.sleep();
    }
    job.run();
}

/// The host thread's start routine (`pthread_create`).
///
/// # Safety
/// `context` is the job [`spawn`] was given, valid until the thread is joined.
#[cfg(not(target_os = "windows"))]
unsafe extern "C" fn thread_main<J: WorkerJob>(
    context: *mut core::ffi::c_void,
) -> *mut core::ffi::c_void {
    // SAFETY: the job, valid until this thread is joined (spawn's contract).
    let job = unsafe { &*context.cast_const().cast::<J>() };
    // The handle `wake` unparks; made here, on the worker, so that the
    // spawning DDI allocates nothing for the thread.
    let _ = job.signal().thread.set(std::thread::current());
    run_loop(job);
    core::ptr::null_mut()
}

/// Starts a thread running `job` (PASSIVE_LEVEL). On the host the thread
/// is a plain `pthread_create` one: `std::thread::spawn` allocates through
/// the global allocator and aborts when that fails, where a driver must
/// report the failure (`tests/alloc_failure`).
///
/// # Safety
/// `job` stays valid, at the same address, until [`Thread::stop`] of the
/// returned thread has returned; its signal was initialised ([`Signal::init`]).
///
/// # Errors
/// `InsufficientResources` when no thread can be created.
#[cfg(not(target_os = "windows"))]
pub(crate) unsafe fn spawn<J: WorkerJob + 'static>(job: *const J) -> Result<Thread> {
    let mut handle: usize = 0;
    // SAFETY: `handle` is a writable pthread_t (an unsigned long on Linux),
    // default attributes, a start routine of the right ABI, and the job,
    // valid until joined (our contract).
    let rc = unsafe {
        host_threads::pthread_create(
            &raw mut handle,
            core::ptr::null(),
            thread_main::<J>,
            job.cast_mut().cast(),
        )
    };
    if rc != 0 {
        return Err(Status::InsufficientResources);
    }
    Ok(Thread {
        handle: Some(handle),
    })
}

/// The two POSIX thread routines the host worker uses (glibc, linked by std).
#[cfg(not(target_os = "windows"))]
mod host_threads {
    use core::ffi::c_void;

    unsafe extern "C" {
        pub(super) fn pthread_create(
            thread: *mut usize,
            attr: *const c_void,
            start: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
            arg: *mut c_void,
        ) -> i32;
        pub(super) fn pthread_join(thread: usize, retval: *mut *mut c_void) -> i32;
    }
}

/// The Windows thread's start routine.
///
/// # Safety
/// `context` is the job [`spawn`] was given, valid until the thread ends.
#[cfg(target_os = "windows")]
unsafe extern "system" fn thread_main<J: WorkerJob>(context: *mut core::ffi::c_void) {
    // SAFETY: the job, valid until this thread is joined (spawn's contract).
    let job = unsafe { &*context.cast_const().cast::<J>() };
    run_loop(job);
}

/// Starts a thread running `job` (PASSIVE_LEVEL).
///
/// # Safety
/// As on the host.
///
/// # Errors
/// `InsufficientResources` when no thread can be created.
#[cfg(target_os = "windows")]
pub(crate) unsafe fn spawn<J: WorkerJob + 'static>(job: *const J) -> Result<Thread> {
    let mut handle: os::HANDLE = core::ptr::null_mut();
    // SAFETY: every pointer is valid or NULL as the routine allows; the
    // routine gets the job, valid until the thread is joined (our contract).
    let status = unsafe {
        os::PsCreateSystemThread(
            &raw mut handle,
            os::THREAD_ALL_ACCESS,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            thread_main::<J>,
            job.cast_mut().cast(),
        )
    };
    if !status.is_success() {
        return Err(Status::InsufficientResources);
    }
    Ok(Thread { handle })
}

impl Thread {
    /// Stops the thread (after a last run of the job) and joins it (PASSIVE_LEVEL).
    pub(crate) fn stop<J: WorkerJob>(self, job: &J) {
        job.signal().stop.store(true, Ordering::SeqCst);
        job.signal().wake();
        #[cfg(not(target_os = "windows"))]
        if let Some(h) = self.handle {
            // SAFETY: a thread `spawn` created, joined once (`self` is consumed).
            let _ = unsafe { host_threads::pthread_join(h, core::ptr::null_mut()) };
        }
        #[cfg(target_os = "windows")]
        {
            // SAFETY: the handle PsCreateSystemThread gave, not yet closed;
            // an unbounded wait at PASSIVE_LEVEL for the thread to end.
            unsafe { os::ZwWaitForSingleObject(self.handle, 0, core::ptr::null_mut()) };
            // SAFETY: the same handle, closed once; `self` is consumed.
            unsafe { os::ZwClose(self.handle) };
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

    // The `raw` backend links ntoskrnl through raw-dylib; the `wdk` one
    // through the WDK's ntoskrnl.lib.
    #[cfg_attr(
        not(feature = "wdk"),
        link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")
    )]
    unsafe extern "system" {
        pub(super) fn KeInitializeEvent(Event: *mut KEVENT, Type: i32, State: BOOLEAN);
        pub(super) fn KeSetEvent(Event: *mut KEVENT, Increment: i32, Wait: BOOLEAN) -> i32;
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
            ObjectAttributes: PVOID,
            ProcessHandle: HANDLE,
            ClientId: PVOID,
            StartRoutine: unsafe extern "system" fn(PVOID),
            StartContext: PVOID,
        ) -> NTSTATUS;
        pub(super) fn ZwWaitForSingleObject(
            Handle: HANDLE,
            Alertable: BOOLEAN,
            Timeout: *mut LARGE_INTEGER,
        ) -> NTSTATUS;
        pub(super) fn ZwClose(Handle: HANDLE) -> NTSTATUS;
    }
}
