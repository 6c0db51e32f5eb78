//! The merge's laws, and the convergence property: machines that write, sync part of the way,
//! back up and restore in random orders all end in the same state once each has read every
//! record.

use std::collections::BTreeMap;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Change, DeviceId, NoteBody, Section, State, Uid};

fn uid(rng: &mut ChaCha8Rng) -> Uid {
    let mut u = [0u8; 16];
    rng.fill_bytes(&mut u);
    Uid(u)
}

fn dev(n: u8) -> DeviceId {
    Uid([n; 16])
}

fn note(text: &str) -> Option<NoteBody> {
    Some(text).filter(|t| !t.is_empty()).map(|text| NoteBody {
        kind: "note".into(),
        created_at: 1,
        text: text.into(),
    })
}

fn cast(reading: Uid) -> Change {
    Change::Cast {
        reading,
        body: "reading".into(),
        sections: BTreeMap::from([(
            1,
            Section {
                complete: false,
                body: "failed".into(),
            },
        )]),
    }
}

/// One machine: its state, its own records (as the folder holds them) and how far it has read
/// each device's records.
#[derive(Clone)]
struct Machine {
    id: DeviceId,
    state: State,
    read: BTreeMap<DeviceId, usize>,
}

struct World {
    machines: Vec<Machine>,
    /// Each device's records in the folder, in order.
    logs: BTreeMap<DeviceId, Vec<Change>>,
    /// Backups: a machine's state and cursors as they were.
    backups: Vec<(usize, State, BTreeMap<DeviceId, usize>)>,
}

impl World {
    fn new(n: u8) -> Self {
        let machines = (1..=n)
            .map(|i| Machine {
                id: dev(i),
                state: State::default(),
                read: BTreeMap::new(),
            })
            .collect();
        Self {
            machines,
            logs: (1..=n).map(|i| (dev(i), Vec::new())).collect(),
            backups: Vec::new(),
        }
    }

    /// Machine `m` writes `change`: applied at once, appended to its own records.
    fn write(&mut self, m: usize, change: Change) {
        let machine = &mut self.machines[m];
        machine.state.apply(machine.id, &change);
        let log = self.logs.entry(machine.id).or_default();
        let cursor = machine.read.entry(machine.id).or_default();
        if *cursor == log.len() {
            *cursor += 1;
        }
        log.push(change);
    }

    /// Machine `m` reads up to `n` more records of `device`, in that device's order.
    fn read(&mut self, m: usize, device: DeviceId, n: usize) {
        let machine = &mut self.machines[m];
        let log = &self.logs[&device];
        let cursor = machine.read.entry(device).or_default();
        let end = (*cursor + n).min(log.len());
        for change in &log[*cursor..end] {
            machine.state.apply(device, change);
        }
        *cursor = end;
    }

    /// Machine `m` compacts its records into a snapshot: the changes that rebuild what they
    /// say. A reader that had read into them reads the snapshot again from its start; one past
    /// them goes on after it.
    fn compact(&mut self, m: usize) {
        let device = self.machines[m].id;
        let log = self.logs.get_mut(&device).unwrap();
        let mut mine = State::default();
        for change in log.iter() {
            mine.apply(device, change);
        }
        let snapshot = mine.changes();
        let (old, new) = (log.len(), snapshot.len());
        *log = snapshot;
        for machine in &mut self.machines {
            if let Some(cursor) = machine.read.get_mut(&device) {
                *cursor = if *cursor == old { new } else { 0 };
            }
        }
        for (_, _, read) in &mut self.backups {
            if let Some(cursor) = read.get_mut(&device) {
                *cursor = 0;
            }
        }
    }

    /// A random local write by machine `m`.
    fn random_write(&mut self, m: usize, rng: &mut ChaCha8Rng) {
        let state = &self.machines[m].state;
        let readings: Vec<Uid> = state.readings.keys().copied().collect();
        let notes: Vec<(Uid, Uid)> = state
            .notes
            .iter()
            .filter(|(_, n)| n.body.is_some())
            .map(|(u, n)| (*u, n.reading))
            .collect();
        let clock = state.clock() + 1;
        let pick = |rng: &mut ChaCha8Rng, v: &[Uid]| v[rng.random_range(0..v.len())];
        let change = match rng.random_range(0..8) {
            0 | 1 => Change::Cast {
                reading: uid(rng),
                body: format!("reading {}", rng.random_range(0..1000)),
                sections: (1..=rng.random_range(0..3u8))
                    .map(|s| {
                        (
                            s,
                            Section {
                                complete: rng.random_bool(0.5),
                                body: format!("s{}", rng.random_range(0..4)),
                            },
                        )
                    })
                    .collect(),
            },
            _ if readings.is_empty() => return,
            2 => Change::Sections {
                reading: pick(rng, &readings),
                sections: BTreeMap::from([(
                    rng.random_range(1..4u8),
                    Section {
                        complete: rng.random_bool(0.7),
                        body: format!("retry {}", rng.random_range(0..4)),
                    },
                )]),
            },
            3 => Change::Note {
                note: uid(rng),
                reading: pick(rng, &readings),
                clock,
                body: note(&format!("note {}", rng.random_range(0..100))),
            },
            4 if !notes.is_empty() => {
                let (n, reading) = notes[rng.random_range(0..notes.len())];
                let body = rng
                    .random_bool(0.7)
                    .then(|| note(&format!("edit {}", rng.random_range(0..100))))
                    .flatten();
                Change::Note {
                    note: n,
                    reading,
                    clock,
                    body,
                }
            }
            5 => Change::Followup {
                followup: uid(rng),
                reading: pick(rng, &readings),
                body: format!("follow-up {}", rng.random_range(0..100)),
            },
            6 if rng.random_bool(0.3) => Change::Deleted {
                reading: pick(rng, &readings),
            },
            _ => return,
        };
        self.write(m, change);
    }

    /// Every machine reads everything, devices interleaved at random.
    fn finish(&mut self, rng: &mut ChaCha8Rng) {
        let devices: Vec<DeviceId> = self.logs.keys().copied().collect();
        for m in 0..self.machines.len() {
            loop {
                let behind: Vec<DeviceId> = devices
                    .iter()
                    .copied()
                    .filter(|d| {
                        self.machines[m].read.get(d).copied().unwrap_or(0) < self.logs[d].len()
                    })
                    .collect();
                if behind.is_empty() {
                    break;
                }
                let d = behind[rng.random_range(0..behind.len())];
                self.read(m, d, rng.random_range(1..4));
            }
        }
    }
}

/// Runs one random history of `n` machines from `seed`; returns the end states.
fn history(n: u8, seed: u64) -> Vec<State> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut world = World::new(n);
    let devices: Vec<DeviceId> = world.logs.keys().copied().collect();
    for _ in 0..rng.random_range(10..80) {
        let m = rng.random_range(0..world.machines.len());
        match rng.random_range(0..11) {
            0..=5 => world.random_write(m, &mut rng),
            6 | 7 => {
                let d = devices[rng.random_range(0..devices.len())];
                let k = rng.random_range(1..5);
                world.read(m, d, k);
            }
            9 => world.compact(m),
            8 => {
                let machine = &world.machines[m];
                world
                    .backups
                    .push((m, machine.state.clone(), machine.read.clone()));
            }
            _ => {
                // Restore an old backup of this machine: its state and cursors go back; its
                // records stay in the folder and are read again.
                let mine: Vec<_> = world.backups.iter().filter(|b| b.0 == m).collect();
                if let Some((_, state, read)) = mine.get(rng.random_range(0..mine.len().max(1))) {
                    let (state, read) = (state.clone(), read.clone());
                    world.machines[m].state = state;
                    world.machines[m].read = read;
                }
            }
        }
    }
    world.finish(&mut rng);
    world.machines.into_iter().map(|m| m.state).collect()
}

#[test]
fn two_and_three_machines_end_in_the_same_state_whatever_the_order() {
    for n in [2u8, 3] {
        for seed in 0..400 {
            let states = history(n, seed);
            for (i, s) in states.iter().enumerate().skip(1) {
                assert_eq!(
                    s,
                    &states[0],
                    "{n} machines, seed {seed}: machine {} differs from machine 1",
                    i + 1
                );
                assert_eq!(s.view(), states[0].view());
            }
        }
    }
}

#[test]
fn the_property_sees_real_histories() {
    // The histories are not empty ones that trivially agree: across the seeds there are
    // readings, deleted readings, notes, deleted notes and follow-ups at the end.
    let (mut readings, mut tombstones, mut notes, mut deleted_notes, mut followups) =
        (0, 0, 0, 0, 0);
    for seed in 0..100 {
        let s = &history(3, seed)[0];
        readings += s.readings.len();
        tombstones += s.tombstones.len();
        notes += s.notes.values().filter(|n| n.body.is_some()).count();
        deleted_notes += s.notes.values().filter(|n| n.body.is_none()).count();
        followups += s.followups.len();
    }
    for (what, count) in [
        ("readings", readings),
        ("tombstones", tombstones),
        ("notes", notes),
        ("deleted notes", deleted_notes),
        ("follow-ups", followups),
    ] {
        assert!(count > 10, "only {count} {what} over 100 histories");
    }
}

#[test]
fn applying_a_change_twice_is_applying_it_once() {
    let r = Uid([7; 16]);
    let mut once = State::default();
    once.apply(dev(1), &cast(r));
    let mut twice = once.clone();
    twice.apply(dev(1), &cast(r));
    assert_eq!(once, twice);
}

#[test]
fn the_later_edit_wins_by_its_clock_not_its_arrival() {
    let (r, n) = (Uid([1; 16]), Uid([2; 16]));
    let first = Change::Note {
        note: n,
        reading: r,
        clock: 1,
        body: note("first"),
    };
    // Written by device 1 after it saw the first version: one more on the clock.
    let later = Change::Note {
        note: n,
        reading: r,
        clock: 2,
        body: note("later"),
    };
    let mut a = State::default();
    a.apply(dev(9), &cast(r));
    let mut b = a.clone();
    a.apply(dev(2), &first);
    a.apply(dev(1), &later);
    b.apply(dev(1), &later);
    b.apply(dev(2), &first);
    assert_eq!(a, b);
    assert_eq!(a.view().notes[&n].1.text, "later");
}

#[test]
fn concurrent_edits_at_one_clock_agree_by_device() {
    let (r, n) = (Uid([1; 16]), Uid([2; 16]));
    let from = |text: &str| Change::Note {
        note: n,
        reading: r,
        clock: 3,
        body: note(text),
    };
    let mut a = State::default();
    a.apply(dev(9), &cast(r));
    let mut b = a.clone();
    a.apply(dev(1), &from("one"));
    a.apply(dev(2), &from("two"));
    b.apply(dev(2), &from("two"));
    b.apply(dev(1), &from("one"));
    assert_eq!(a, b);
    assert_eq!(
        a.view().notes[&n].1.text,
        "two",
        "the higher device id wins"
    );
}

#[test]
fn a_deletion_wins_over_a_copy_restored_from_an_old_backup() {
    let r = Uid([5; 16]);
    let mut s = State::default();
    s.apply(dev(1), &cast(r));
    s.apply(dev(1), &Change::Deleted { reading: r });
    // The cast again (a machine restored from a backup made before the deletion), and a note
    // written on it there.
    s.apply(dev(2), &cast(r));
    s.apply(
        dev(2),
        &Change::Note {
            note: Uid([6; 16]),
            reading: r,
            clock: 9,
            body: note("still here?"),
        },
    );
    assert!(s.view().readings.is_empty());
    assert!(s.view().notes.is_empty());
    assert!(s.tombstones.contains(&r));
}

#[test]
fn a_retry_adds_sections_and_a_complete_one_wins_over_a_failed_one() {
    let r = Uid([3; 16]);
    let retry = Change::Sections {
        reading: r,
        sections: BTreeMap::from([
            (
                1,
                Section {
                    complete: true,
                    body: "done".into(),
                },
            ),
            (
                2,
                Section {
                    complete: true,
                    body: "new".into(),
                },
            ),
        ]),
    };
    for order in [[cast(r), retry.clone()], [retry.clone(), cast(r)]] {
        let mut s = State::default();
        for c in &order {
            s.apply(dev(1), c);
        }
        let sections = &s.view().readings[&r].1;
        assert_eq!(sections.len(), 2);
        assert!(sections.values().all(|s| s.complete));
    }
}

#[test]
fn uids_read_back_from_hex() {
    let u = Uid([0xab; 16]);
    assert_eq!(Uid::parse(&u.hex()), Some(u));
    assert_eq!(Uid::parse("abc"), None);
    assert_eq!(Uid::parse(&"zz".repeat(16)), None);
    let json = serde_json::to_string(&Change::Deleted { reading: u }).unwrap();
    assert_eq!(
        json,
        format!(r#"{{"deleted":{{"reading":"{}"}}}}"#, u.hex())
    );
    let back: Change = serde_json::from_str(&json).unwrap();
    assert_eq!(back, Change::Deleted { reading: u });
}

#[test]
fn a_snapshot_of_one_device_rebuilds_what_its_records_say() {
    for seed in 0..200 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut world = World::new(1);
        for _ in 0..40 {
            world.random_write(0, &mut rng);
        }
        let state = world.machines[0].state.clone();
        let mut rebuilt = State::default();
        for change in state.changes() {
            rebuilt.apply(dev(1), &change);
        }
        assert_eq!(rebuilt, state, "seed {seed}");
    }
}
