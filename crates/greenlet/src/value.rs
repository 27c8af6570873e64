//! What a switch carries: [`Value`].
//!
//! Python's greenlet passes any object through `switch()`. The Rust equivalent that keeps the
//! code ported from Python short is a dynamically typed value: `g.switch(42)` on one side,
//! `v.downcast::<i32>()` on the other, and `g.switch(())` costs nothing (no allocation).
//!
//! Typed layers above (greenwood's hub, `Greenlet<T>`, queues) do not need downcasts: they
//! switch with `()` and pass their typed data through their own slots, which both sides
//! share (a `Cell<Option<T>>` in the waiter, say). The switch then only transfers control, and
//! stays allocation-free.

use std::any::{Any, TypeId};
use std::fmt;

/// A value passed by [`Greenlet::switch`](crate::Greenlet::switch), or returned by a greenlet's
/// `run` function to its parent.
///
/// `()` is represented without allocating; anything else is boxed.
///
/// # Examples
///
/// ```
/// use greenlet::Value;
///
/// let v = Value::new(7u32);
/// assert!(v.is::<u32>());
/// assert_eq!(v.downcast::<u32>().unwrap(), 7);
///
/// let unit = Value::new(());
/// assert!(unit.is_unit());
/// ```
pub struct Value(Option<Box<dyn Any>>);

impl Value {
    /// The unit value, `()`.
    pub const UNIT: Value = Value(None);

    /// Wraps `v`. `()` is stored without allocating, and a `Value` (or `Box<dyn Any>`) is
    /// taken as it is rather than wrapped again.
    #[inline]
    pub fn new<T: 'static>(v: T) -> Value {
        if TypeId::of::<T>() == TypeId::of::<()>() {
            return Value(None);
        }
        let mut slot = Some(v);
        let any: &mut dyn Any = &mut slot;
        if let Some(inner) = any.downcast_mut::<Option<Value>>() {
            return inner.take().expect("slot is full");
        }
        if let Some(inner) = any.downcast_mut::<Option<Box<dyn Any>>>() {
            return Value::from_box(inner.take().expect("slot is full"));
        }
        Value(Some(Box::new(slot.expect("slot is full"))))
    }

    fn from_box(b: Box<dyn Any>) -> Value {
        if b.is::<()>() {
            Value(None)
        } else {
            Value(Some(b))
        }
    }

    /// Whether this is `()`.
    pub fn is_unit(&self) -> bool {
        self.0.is_none()
    }

    /// Whether the value is a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        match &self.0 {
            None => TypeId::of::<T>() == TypeId::of::<()>(),
            Some(b) => b.is::<T>(),
        }
    }

    /// Takes the value out as a `T`, or gives it back unchanged if it is something else.
    ///
    /// # Errors
    ///
    /// Returns `Err(self)` when the value is not a `T`.
    pub fn downcast<T: 'static>(self) -> Result<T, Value> {
        match self.0 {
            None => {
                let mut unit = Some(());
                match (&mut unit as &mut dyn Any).downcast_mut::<Option<T>>() {
                    Some(t) => Ok(t.take().expect("slot is full")),
                    None => Err(Value(None)),
                }
            }
            Some(b) => b.downcast::<T>().map(|b| *b).map_err(|b| Value(Some(b))),
        }
    }

    /// Borrows the value as a `T`, if it is one.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        match &self.0 {
            None => (&() as &dyn Any).downcast_ref::<T>(),
            Some(b) => b.downcast_ref::<T>(),
        }
    }

    /// The value as a `Box<dyn Any>`.
    pub fn into_any(self) -> Box<dyn Any> {
        self.0.unwrap_or_else(|| Box::new(()))
    }
}

impl Default for Value {
    fn default() -> Value {
        Value::UNIT
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Value(())"),
            Some(b) => {
                if let Some(s) = b.downcast_ref::<&str>() {
                    write!(f, "Value({s:?})")
                } else if let Some(s) = b.downcast_ref::<String>() {
                    write!(f, "Value({s:?})")
                } else if let Some(n) = b.downcast_ref::<i32>() {
                    write!(f, "Value({n})")
                } else {
                    f.write_str("Value(..)")
                }
            }
        }
    }
}
