//! A ring of fixed capacity: the newest values replace the oldest, and its memory is
//! allocated once, when it is made.

pub(crate) struct Ring<T> {
    items: Vec<T>,
    capacity: usize,
    /// Where the oldest item is once the ring is full (the next to be replaced).
    oldest: usize,
}

impl<T> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Ring<T> {
        let capacity = capacity.max(1);
        Ring {
            items: Vec::with_capacity(capacity),
            capacity,
            oldest: 0,
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.items.len() < self.capacity {
            self.items.push(item);
        } else {
            self.items[self.oldest] = item;
            self.oldest = (self.oldest + 1) % self.capacity;
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let (newer, older) = self.items.split_at(self.oldest);
        older.iter().chain(newer)
    }

    #[cfg(test)]
    pub(crate) fn last(&self) -> Option<&T> {
        if self.items.len() < self.capacity {
            self.items.last()
        } else {
            self.items
                .get((self.oldest + self.capacity - 1) % self.capacity)
        }
    }

    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.items.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_in_order_and_never_grows() {
        let mut r = Ring::new(4);
        assert_eq!(r.last(), None);
        for i in 0..3 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(r.last(), Some(&2));
        for i in 3..11 {
            r.push(i);
            assert_eq!(r.last(), Some(&i));
        }
        assert_eq!(r.len(), 4);
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), [7, 8, 9, 10]);
        assert_eq!(r.allocated(), 4, "allocated once, at its capacity");
    }

    #[test]
    fn a_zero_capacity_holds_one() {
        let mut r = Ring::new(0);
        r.push('a');
        r.push('b');
        assert_eq!(r.iter().copied().collect::<String>(), "b");
    }
}
