//! The hub's timers: a hierarchical timing wheel with millisecond ticks.
//!
//! A million sleeping greenlets means a million timers, most of which are cancelled before they
//! fire (every `with_timeout` that finishes in time cancels one). A binary heap makes insert
//! and cancel O(log n) with cache misses at every level; lazy deletion instead lets cancelled
//! entries pile up until their deadline. The wheel makes insert and cancel O(1) and expiry
//! O(1) amortised:
//!
//! ```text
//!   level 0: 64 slots of 1 ms       level 1: 64 slots of 64 ms      ...   level 10
//!   [.|.|x|.|...|.]                 [.|x|.|.|...|.]
//!        └─ doubly linked list of entries (slab indices), FIFO
//! ```
//!
//! A timer due at tick `when` sits at the level of the highest 6-bit digit in which `when`
//! differs from `elapsed` (the tick processed up to), in the slot given by that digit. Eleven
//! levels cover every `u64` tick. When `elapsed` reaches the start of a slot, its entries fire
//! or move down to a finer level ("cascade"). Invariant: every occupied slot starts after
//! `elapsed` (or at it, for level 0), within `elapsed`'s window of the level above, so the next
//! slot to process at each level is its lowest occupied one, found with `trailing_zeros`.
//!
//! Entries live in a slab and are linked by index, so a timer costs one slab slot (no
//! allocation once the slab has grown) and a [`TimerKey`] is two integers. A generation in
//! the key makes cancelling a timer that already fired, and whose slot was reused, a no-op.

use std::time::{Duration, Instant};

use slab::Slab;

const LEVELS: usize = 11;
const SLOTS: usize = 64;
const NIL: u32 = u32::MAX;

/// Identifies a pending timer, for [`Wheel::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

struct Entry<T> {
    when: u64,
    prev: u32,
    next: u32,
    level: u8,
    slot: u8,
    generation: u32,
    item: T,
}

#[derive(Clone, Copy)]
struct Level {
    occupied: u64,
    head: [u32; SLOTS],
    tail: [u32; SLOTS],
}

pub(crate) struct Wheel<T> {
    origin: Instant,
    /// Ticks (milliseconds since `origin`) processed up to.
    elapsed: u64,
    levels: Box<[Level; LEVELS]>,
    entries: Slab<Entry<T>>,
    generation: u32,
}

impl<T> Wheel<T> {
    pub(crate) fn new(origin: Instant) -> Wheel<T> {
        let empty = Level {
            occupied: 0,
            head: [NIL; SLOTS],
            tail: [NIL; SLOTS],
        };
        Wheel {
            origin,
            elapsed: 0,
            levels: Box::new([empty; LEVELS]),
            entries: Slab::new(),
            generation: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first tick at or after `at`: a timer never fires early.
    pub(crate) fn deadline_tick(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        let ms = d.as_millis();
        let ceil = if d.subsec_nanos() % 1_000_000 == 0 {
            ms
        } else {
            ms + 1
        };
        u64::try_from(ceil).unwrap_or(u64::MAX)
    }

    /// The tick `now` falls in.
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant of tick `tick`.
    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        self.origin
            .checked_add(Duration::from_millis(tick))
            .unwrap_or_else(|| self.origin + Duration::from_secs(u32::MAX as u64))
    }

    pub(crate) fn insert(&mut self, when: u64, item: T) -> TimerKey {
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let index = self.entries.insert(Entry {
            when,
            prev: NIL,
            next: NIL,
            level: 0,
            slot: 0,
            generation,
            item,
        });
        let index = u32::try_from(index).expect("greenwood: more than 4 billion timers");
        self.link(index);
        TimerKey { index, generation }
    }

    /// Removes a pending timer and returns its item; `None` if it already fired or was
    /// cancelled.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<T> {
        match self.entries.get(key.index as usize) {
            Some(e) if e.generation == key.generation => {}
            _ => return None,
        }
        self.unlink(key.index);
        Some(self.entries.remove(key.index as usize).item)
    }

    /// Whether `key`'s timer is still pending (neither fired nor cancelled).
    pub(crate) fn contains(&self, key: TimerKey) -> bool {
        self.entries
            .get(key.index as usize)
            .is_some_and(|e| e.generation == key.generation)
    }

    /// The start of the first slot with something in it: the hub must look again by then.
    pub(crate) fn next_tick(&self) -> Option<u64> {
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Fires every timer due at or before tick `now`, in deadline order (FIFO within a tick).
    pub(crate) fn expire(&mut self, now: u64, mut fire: impl FnMut(T)) {
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = self.elapsed.max(start);
            let lv = &mut self.levels[level];
            let mut index = std::mem::replace(&mut lv.head[slot], NIL);
            lv.tail[slot] = NIL;
            lv.occupied &= !(1 << slot);
            while index != NIL {
                let e = &self.entries[index as usize];
                let next = e.next;
                if e.when <= now {
                    fire(self.entries.remove(index as usize).item);
                } else {
                    self.link(index);
                }
                index = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for (level, lv) in self.levels.iter().enumerate() {
            if lv.occupied == 0 {
                continue;
            }
            let slot = lv.occupied.trailing_zeros() as usize;
            let shift = 6 * level as u32;
            let window = self.elapsed & !mask_below(shift + 6);
            let start = window + ((slot as u64) << shift);
            if best.is_none_or(|(_, _, b)| start < b) {
                best = Some((level, slot, start));
            }
        }
        best
    }

    /// Puts entry `index` in the slot its deadline calls for, relative to `elapsed`.
    fn link(&mut self, index: u32) {
        let when = self.entries[index as usize].when.max(self.elapsed);
        let level = level_for(self.elapsed, when);
        let slot = ((when >> (6 * level as u32)) & (SLOTS as u64 - 1)) as usize;
        let lv = &mut self.levels[level];
        let tail = lv.tail[slot];
        lv.tail[slot] = index;
        if tail == NIL {
            lv.head[slot] = index;
            lv.occupied |= 1 << slot;
        }
        if tail != NIL {
            self.entries[tail as usize].next = index;
        }
        let e = &mut self.entries[index as usize];
        e.prev = tail;
        e.next = NIL;
        e.level = level as u8;
        e.slot = slot as u8;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, level, slot) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.level as usize, e.slot as usize)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        let lv = &mut self.levels[level];
        if lv.head[slot] == index {
            lv.head[slot] = next;
        }
        if lv.tail[slot] == index {
            lv.tail[slot] = prev;
        }
        if lv.head[slot] == NIL {
            lv.occupied &= !(1 << slot);
        }
    }
}

fn mask_below(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The level of the highest 6-bit digit in which `when` differs from `elapsed`.
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    significant / 6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(w: &mut Wheel<u32>, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        w.expire(now, |i| out.push(i));
        out
    }

    #[test]
    fn fires_in_deadline_order_and_fifo_within_a_tick() {
        let mut w = Wheel::new(Instant::now());
        for (i, when) in [5u64, 70, 5, 4_100, 1, 300_000, 70].into_iter().enumerate() {
            w.insert(when, i as u32);
        }
        assert_eq!(fired(&mut w, 0), Vec::<u32>::new());
        assert_eq!(fired(&mut w, 5), vec![4, 0, 2]);
        assert_eq!(fired(&mut w, 69), Vec::<u32>::new());
        assert_eq!(fired(&mut w, 70), vec![1, 6]);
        assert_eq!(fired(&mut w, 1_000_000), vec![3, 5]);
        assert!(w.is_empty());
    }

    #[test]
    fn never_fires_early_and_never_misses_across_levels() {
        // A deterministic spread of deadlines, checked against a sorted model at many `now`s.
        let mut w = Wheel::new(Instant::now());
        let mut model = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..5_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let when = x % 5_000_000;
            w.insert(when, i);
            model.push((when, i));
        }
        let mut now = 0;
        let mut seen = 0;
        while seen < model.len() {
            now += 1 + (now / 3);
            let got = fired(&mut w, now);
            for i in &got {
                let when = model[*i as usize].0;
                assert!(when <= now, "timer {i} due {when} fired at {now}");
            }
            seen += got.len();
            let due = model.iter().filter(|(when, _)| *when <= now).count();
            assert_eq!(seen, due, "at tick {now}");
        }
    }

    #[test]
    fn cancel_removes_and_stale_keys_are_ignored() {
        let mut w = Wheel::new(Instant::now());
        let a = w.insert(10, 1);
        let b = w.insert(10, 2);
        let c = w.insert(10, 3);
        assert_eq!(w.cancel(b), Some(2));
        assert_eq!(w.cancel(b), None);
        assert_eq!(fired(&mut w, 10), vec![1, 3]);
        assert_eq!(w.cancel(a), None);
        // A reused slab slot does not answer to the old key.
        let d = w.insert(20, 4);
        assert_eq!(w.cancel(c), None);
        assert_eq!(w.cancel(d), Some(4));
        assert_eq!(w.next_tick(), None);
    }

    #[test]
    fn past_deadlines_fire_at_the_next_expiry() {
        let mut w = Wheel::new(Instant::now());
        w.expire(1_000, |_: u32| {});
        w.insert(3, 7);
        assert_eq!(w.next_tick(), Some(1_000));
        assert_eq!(fired(&mut w, 1_000), vec![7]);
    }

    #[test]
    fn ticks_round_deadlines_up() {
        let origin = Instant::now();
        let w: Wheel<()> = Wheel::new(origin);
        assert_eq!(w.deadline_tick(origin + Duration::from_micros(1)), 1);
        assert_eq!(w.deadline_tick(origin + Duration::from_millis(2)), 2);
        assert_eq!(w.now_tick(origin + Duration::from_micros(2_999)), 2);
    }
}
