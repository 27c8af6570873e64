//! Greenlet-local storage (gevent's `gevent.local`): a value per greenlet, as
//! `thread_local!` gives a value per thread, and a way for a spawned greenlet to inherit
//! chosen values from its spawner (request ids, tracing spans).
//!
//! Values live in the greenlet's task record, keyed by the address of their [`LocalKey`]
//! (or the number of their run-time [`Local`]); they are dropped when the greenlet finishes.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};

use crate::hub::task::{self, Task};

/// A greenlet-local variable; declare one with [`greenlet_local!`](crate::greenlet_local).
/// Each greenlet sees its own value, created by the initialiser on first use.
pub struct LocalKey<T: 'static> {
    #[doc(hidden)]
    pub __init: fn() -> T,
}

/// Declares greenlet-local variables, as `thread_local!` declares thread-local ones.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
///
/// greenwood::greenlet_local! {
///     static REQUEST_ID: Cell<u64> = Cell::new(0);
/// }
///
/// REQUEST_ID.with(|id| id.set(7));
/// let other = greenwood::spawn(|| REQUEST_ID.with(|id| id.get()));
/// assert_eq!(other.get().unwrap(), 0); // its own value
/// assert_eq!(REQUEST_ID.with(|id| id.get()), 7);
/// ```
#[macro_export]
macro_rules! greenlet_local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {
        $(
            $(#[$attr])*
            $vis static $name: $crate::local::LocalKey<$t> = $crate::local::LocalKey {
                __init: || $init,
            };
        )+
    };
}

impl<T: 'static> LocalKey<T> {
    fn key(&'static self) -> usize {
        self as *const LocalKey<T> as usize
    }

    /// Runs `f` with the current greenlet's value, creating it first if needed.
    ///
    /// # Panics
    ///
    /// If `f` (or the initialiser) uses this same key again: the value is borrowed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    ///
    /// greenwood::greenlet_local! {
    ///     static TRAIL: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
    /// }
    ///
    /// TRAIL.with(|t| t.borrow_mut().push("main"));
    /// assert_eq!(TRAIL.with(|t| t.borrow().len()), 1);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        with_value(&task::current(), self.key(), self.__init, f)
    }

    /// Sets the current greenlet's value.
    ///
    /// # Examples
    ///
    /// ```
    /// greenwood::greenlet_local! {
    ///     static USER: String = String::new();
    /// }
    ///
    /// USER.set("alice".to_string());
    /// assert_eq!(USER.get(), "alice");
    /// ```
    pub fn set(&'static self, value: T) {
        let task = task::current();
        put_value(&task, self.key(), Box::new(value));
    }

    /// A copy of the current greenlet's value.
    ///
    /// # Examples
    ///
    /// ```
    /// greenwood::greenlet_local! {
    ///     static DEPTH: u32 = 0;
    /// }
    ///
    /// assert_eq!(DEPTH.get(), 0);
    /// ```
    pub fn get(&'static self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }

    /// Takes a copy of the current greenlet's value, to install in a greenlet about to be
    /// spawned (see [`Builder::inherit`](crate::Builder::inherit)).
    pub(crate) fn inheritor(&'static self) -> Inherit
    where
        T: Clone,
    {
        let value = self.get();
        let key = self.key();
        Box::new(move |task: &Task| put_value(task, key, Box::new(value)))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Runs `f` with `task`'s value of `key`, made by `init` first if it has none.
fn with_value<T: 'static, R>(
    task: &Task,
    key: usize,
    init: impl FnOnce() -> T,
    f: impl FnOnce(&T) -> R,
) -> R {
    let value = match take_value(task, key) {
        Some(v) => v,
        None => {
            // If the initialiser panics, the marker goes: the next access tries again.
            let marker = Marker { task, key };
            let v: Box<dyn Any> = Box::new(init());
            std::mem::forget(marker);
            v
        }
    };
    // Put the value back however `f` ends, panics included.
    let lent = Lent {
        task,
        key,
        value: Some(value),
    };
    let v = lent.value.as_ref().expect("lent");
    f(v.downcast_ref::<T>()
        .expect("greenwood: a local key's value has its type"))
}

/// A greenlet-local value made at run time (gevent's `local()` object): each greenlet that
/// uses it sees its own, made by the initialiser on first use, as with a
/// [`greenlet_local!`](crate::greenlet_local) static, but created when the program needs
/// one (per connection, per request handler, inside a library) instead of declared. Clones
/// are handles to the same local. When the last handle goes, every greenlet's value goes
/// with it; a greenlet's value also goes when the greenlet finishes.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use greenwood::local::Local;
///
/// let hits = Local::new(|| Cell::new(0u32));
/// hits.with(|h| h.set(5));
/// let h = hits.clone();
/// let other = greenwood::spawn(move || {
///     h.with(|h| h.set(h.get() + 1));
///     h.with(|h| h.get())
/// });
/// assert_eq!(other.get().unwrap(), 1); // its own, from the initialiser
/// assert_eq!(hits.with(|h| h.get()), 5);
/// ```
pub struct Local<T: 'static> {
    inner: Rc<LocalInner<T>>,
}

struct LocalInner<T> {
    /// Odd, so it never equals the (aligned) address of a static `LocalKey`.
    key: usize,
    init: Box<dyn Fn() -> T>,
    /// The greenlets that have a value, to drop it when the local goes.
    holders: RefCell<Vec<Weak<Task>>>,
}

impl<T: 'static> Local<T> {
    /// A local whose value in each greenlet is made by `init`, on its first use there.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = greenwood::local::Local::new(|| String::from("anonymous"));
    /// assert_eq!(name.get(), "anonymous");
    /// ```
    pub fn new(init: impl Fn() -> T + 'static) -> Local<T> {
        static NEXT: crate::hub::IdCounter = crate::hub::IdCounter::new();
        Local {
            inner: Rc::new(LocalInner {
                key: usize::try_from(NEXT.next())
                    .ok()
                    .and_then(|n| n.checked_mul(2))
                    .map(|n| n | 1)
                    .expect("greenwood: more run-time locals than a usize counts"),
                init: Box::new(init),
                holders: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Runs `f` with the current greenlet's value, making it first if needed.
    ///
    /// # Panics
    ///
    /// If `f` (or the initialiser) uses this same local again: the value is borrowed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    ///
    /// let trail = greenwood::local::Local::new(|| RefCell::new(Vec::new()));
    /// trail.with(|t| t.borrow_mut().push("main"));
    /// assert_eq!(trail.with(|t| t.borrow().len()), 1);
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let task = task::current();
        let inner = &*self.inner;
        with_value(
            &task,
            inner.key,
            || {
                inner.hold(&task);
                (inner.init)()
            },
            f,
        )
    }

    /// Sets the current greenlet's value.
    ///
    /// # Examples
    ///
    /// ```
    /// let user = greenwood::local::Local::new(String::new);
    /// user.set("alice".to_string());
    /// assert_eq!(user.get(), "alice");
    /// ```
    pub fn set(&self, value: T) {
        let task = task::current();
        let had = task
            .locals
            .borrow()
            .as_ref()
            .is_some_and(|l| l.contains_key(&self.inner.key));
        if !had {
            self.inner.hold(&task);
        }
        put_value(&task, self.inner.key, Box::new(value));
    }

    /// A copy of the current greenlet's value.
    ///
    /// # Examples
    ///
    /// ```
    /// let depth = greenwood::local::Local::new(|| 0u32);
    /// assert_eq!(depth.get(), 0);
    /// ```
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }
}

impl<T> LocalInner<T> {
    /// Notes that `task` gets a value, forgetting greenlets that have ended on the way.
    fn hold(&self, task: &Rc<Task>) {
        let mut holders = self.holders.borrow_mut();
        if holders.len() >= 16 && holders.len().is_power_of_two() {
            holders.retain(|w| w.upgrade().is_some_and(|t| !t.is_done()));
        }
        holders.push(Rc::downgrade(task));
    }
}

impl<T> Drop for LocalInner<T> {
    fn drop(&mut self) {
        let mut gone = Vec::new();
        for w in self.holders.get_mut().drain(..) {
            if let Some(task) = w.upgrade() {
                let mut locals = task.locals.borrow_mut();
                if let Some(v) = locals.as_mut().and_then(|l| l.remove(&self.key)) {
                    gone.push(v);
                }
            }
        }
        // Dropped outside the borrows: their destructors may use greenlet-locals too.
        drop(gone);
    }
}

impl<T: 'static> Clone for Local<T> {
    fn clone(&self) -> Self {
        Local {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Default + 'static> Default for Local<T> {
    /// A local whose values start as `T::default()`.
    fn default() -> Self {
        Local::new(T::default)
    }
}

impl<T: 'static> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local").finish_non_exhaustive()
    }
}

struct Lent<'a> {
    task: &'a Task,
    key: usize,
    value: Option<Box<dyn Any>>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            put_value(self.task, self.key, v);
        }
    }
}

/// The "in use" marker of a value being initialised; dropped only if the initialiser panics.
struct Marker<'a> {
    task: &'a Task,
    key: usize,
}

impl Drop for Marker<'_> {
    fn drop(&mut self) {
        let mut locals = self.task.locals.borrow_mut();
        if let Some(locals) = locals.as_mut() {
            if matches!(locals.get(&self.key), Some(None)) {
                locals.remove(&self.key);
            }
        }
    }
}

/// Installs an inherited value in a new greenlet's task.
pub(crate) type Inherit = Box<dyn FnOnce(&Task)>;

/// Lends the value out, leaving a marker that makes a nested `with` panic; `None` if there is
/// no value yet (the marker is left then too, while the initialiser runs).
fn take_value(task: &Task, key: usize) -> Option<Box<dyn Any>> {
    let mut locals = task.locals.borrow_mut();
    let values = locals.get_or_insert_with(Box::default);
    match values.get_mut(&key) {
        Some(slot) => match slot.take() {
            Some(v) => Some(v),
            None => panic!(
                "greenwood: a greenlet-local value was used while already in use (`with` \
                 called again for the same key from inside `with` or its initialiser)"
            ),
        },
        None => {
            values.insert(key, None);
            None
        }
    }
}

fn put_value(task: &Task, key: usize, value: Box<dyn Any>) {
    let old = task
        .locals
        .borrow_mut()
        .get_or_insert_with(Box::default)
        .insert(key, Some(value));
    // Dropped outside the borrow: its destructor may use greenlet-locals too.
    drop(old);
}

/// Drops a finished greenlet's values.
pub(crate) fn clear(task: &Task) {
    let locals = task.locals.borrow_mut().take();
    drop(locals);
}
