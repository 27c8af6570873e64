//! Errors and the exit signal.

use std::error::Error;
use std::fmt;

/// The panic payload that [`Greenlet::throw`](crate::Greenlet::throw) raises inside a greenlet
/// to unwind it, and that dropping a suspended greenlet raises too.
///
/// A greenlet that ends because of `GreenletExit` is not a failure: its parent receives a
/// [`Value`](crate::Value) holding a `GreenletExit`, not a panic.
///
/// # Examples
///
/// ```
/// use greenlet::{getcurrent, Greenlet, GreenletExit};
///
/// let main = getcurrent();
/// let g = Greenlet::new(move |_| { main.switch(()); unreachable!() });
/// g.switch(());
/// assert!(g.throw().is::<GreenletExit>());
/// assert!(g.is_dead());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GreenletExit;

impl fmt::Display for GreenletExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("greenlet exited (GreenletExit)")
    }
}

impl Error for GreenletExit {}

/// Why [`Greenlet::set_parent`](crate::Greenlet::set_parent) refused a parent.
///
/// # Examples
///
/// ```
/// use greenlet::{getcurrent, Greenlet, ParentError};
///
/// let g = Greenlet::new(|_| ());
/// assert!(matches!(g.set_parent(&g), Err(ParentError::Cycle { .. })));
/// assert_eq!(getcurrent().set_parent(&g), Err(ParentError::MainGreenlet));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParentError {
    /// The new parent is the greenlet itself or one of its descendants: the parent chain would
    /// loop, and a finished greenlet's result would have nowhere to go.
    Cycle {
        /// The greenlet whose parent was being set.
        greenlet: String,
        /// The parent refused.
        parent: String,
    },
    /// A thread's main greenlet has no parent and can't be given one.
    MainGreenlet,
}

impl fmt::Display for ParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParentError::Cycle { greenlet, parent } => write!(
                f,
                "cannot make {parent} the parent of {greenlet}: {parent} is {greenlet} itself \
                 or one of its descendants, so the parent chain would be a cycle"
            ),
            ParentError::MainGreenlet => {
                f.write_str("a thread's main greenlet has no parent and cannot be given one")
            }
        }
    }
}

impl Error for ParentError {}
