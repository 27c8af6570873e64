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
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::Value::UNIT.is_unit());
    /// ```
    pub const UNIT: Value = Value(None);

    /// Wraps `v`. `()` is stored without allocating, and a `Value` (or `Box<dyn Any>`) is
    /// taken as it is rather than wrapped again.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Value;
    ///
    /// let v = Value::new(Value::new("photo.jpg")); // not wrapped twice
    /// assert_eq!(v.downcast::<&str>().unwrap(), "photo.jpg");
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Value;
    ///
    /// assert!(Value::new(()).is_unit());
    /// assert!(!Value::new(0u8).is_unit());
    /// ```
    pub fn is_unit(&self) -> bool {
        self.0.is_none()
    }

    /// Whether the value is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = greenlet::Value::new(String::from("x"));
    /// assert!(v.is::<String>());
    /// assert!(!v.is::<&str>());
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// let v = greenlet::Value::new(42u64);
    /// let v = v.downcast::<u32>().unwrap_err(); // given back, still a u64
    /// assert_eq!(v.downcast::<u64>().unwrap(), 42);
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// let v = greenlet::Value::new(vec![1, 2]);
    /// assert_eq!(v.downcast_ref::<Vec<i32>>().map(Vec::len), Some(2));
    /// assert!(v.downcast_ref::<i32>().is_none());
    /// ```
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        match &self.0 {
            None => (&() as &dyn Any).downcast_ref::<T>(),
            Some(b) => b.downcast_ref::<T>(),
        }
    }

    /// The value as a `Box<dyn Any>`.
    ///
    /// # Examples
    ///
    /// ```
    /// let any = greenlet::Value::new(()).into_any();
    /// assert!(any.is::<()>());
    /// ```
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
