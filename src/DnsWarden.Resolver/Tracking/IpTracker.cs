using System.Collections.Concurrent;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tracking;

/// <summary>
/// The addresses the resolver handed out, so a filter can allow a connection only to an address an
/// answer named. <see cref="Record"/> must run before the answer is released to the client. Times
/// are ticks of 100 ns on the caller's monotonic clock.
/// </summary>
/// <remarks>
/// Readers (<see cref="Contains"/>, <see cref="TryGet"/>) take no lock: a <see cref="ConcurrentDictionary{TKey, TValue}"/>
/// keyed by the 16-byte <see cref="IpAddr"/>. Writers serialise on one lock, which also guards the
/// per-name rings that enforce <see cref="IpTrackerOptions.MaxAddressesPerName"/>. An address seen
/// under several names keeps the latest expiry of them all. <see cref="AddressRemoved"/> is raised
/// after the lock is released.
/// </remarks>
public sealed class IpTracker
{
    private readonly ConcurrentDictionary<IpAddr, Slot> _addresses;
    private readonly Dictionary<string, NameEntry> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NameEntry>.AlternateLookup<ReadOnlySpan<char>> _nameLookup;
    private readonly Lock _gate = new();
    private readonly long _minTtlTicks;
    private readonly long _maxTtlTicks;
    private readonly long _fixedTtlTicks;
    private readonly int _maxPerName;

    public IpTracker(IpTrackerOptions? options = null)
    {
        options ??= new IpTrackerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAddressesPerName, 1);
        _addresses = new ConcurrentDictionary<IpAddr, Slot>(concurrencyLevel: 1, capacity: 31);
        _nameLookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
        _minTtlTicks = Math.Max(0, options.MinTtl.Ticks);
        _maxTtlTicks = options.MaxTtl is TimeSpan max ? Math.Max(0, max.Ticks) : long.MaxValue;
        _fixedTtlTicks = options.FixedTtl is TimeSpan f ? Math.Max(0, f.Ticks) : -1;
        _maxPerName = options.MaxAddressesPerName;
    }

    /// <summary>Raised when an address expires (on <see cref="Sweep"/>) or is dropped; handlers should be quick.</summary>
    public event EventHandler<TrackedAddressRemovedEventArgs>? AddressRemoved;

    /// <summary>Addresses held, expired ones not yet swept included.</summary>
    public int Count => _addresses.Count;

    /// <summary>Records every A and AAAA address of the answer section with its owner name and TTL.</summary>
    public void Record(ReadOnlySpan<byte> response, long nowTicks)
    {
        List<TrackedAddressRemovedEventArgs>? removed = null;
        Span<char> text = stackalloc char[DnsName.MaxFormattedLength];
        var reader = new DnsMessageReader(response);
        lock (_gate)
        {
            while (reader.TryReadRecord(out DnsRecord r))
            {
                if (r.Section != DnsSection.Answer)
                {
                    break;
                }

                if (r.Class != DnsClass.IN || !r.TryReadAddress(out IpAddr address))
                {
                    continue;
                }

                long ttl = TtlTicks(r.Ttl);
                if (ttl <= 0 || !r.Name.TryFormat(text, out int length))
                {
                    continue;
                }

                NameEntry name = Intern(Normalise(text.Slice(0, length)));
                Add(address, name, nowTicks + ttl, ref removed);
            }
        }

        Raise(removed);
    }

    public bool Contains(IpAddr address, long nowTicks) =>
        _addresses.TryGetValue(address, out Slot slot) && nowTicks < slot.ExpiresTicks;

    public bool TryGet(IpAddr address, long nowTicks, out TrackedAddress tracked)
    {
        if (_addresses.TryGetValue(address, out Slot slot) && nowTicks < slot.ExpiresTicks)
        {
            tracked = new TrackedAddress(address, NamesOf(slot), slot.ExpiresTicks);
            return true;
        }

        tracked = default;
        return false;
    }

    /// <summary>Removes every address expired at <paramref name="nowTicks"/>, raising <see cref="AddressRemoved"/>; returns how many.</summary>
    public int Sweep(long nowTicks)
    {
        List<TrackedAddressRemovedEventArgs>? removed = null;
        lock (_gate)
        {
            foreach (KeyValuePair<IpAddr, Slot> kv in _addresses)
            {
                if (kv.Value.ExpiresTicks <= nowTicks)
                {
                    RemoveAddress(kv.Key, kv.Value, TrackedAddressRemovalReason.Expired, ref removed);
                }
            }
        }

        Raise(removed);
        return removed?.Count ?? 0;
    }

    public void Clear()
    {
        List<TrackedAddressRemovedEventArgs>? removed = null;
        lock (_gate)
        {
            foreach (KeyValuePair<IpAddr, Slot> kv in _addresses)
            {
                RemoveAddress(kv.Key, kv.Value, TrackedAddressRemovalReason.Cleared, ref removed);
            }
        }

        Raise(removed);
    }

    private static IReadOnlyList<string> NamesOf(Slot slot) => slot.Names switch
    {
        NameEntry one => [one.Name],
        NameEntry[] many => Array.ConvertAll(many, n => n.Name),
        _ => [],
    };

    /// <summary>Lower-case ASCII and no trailing dot, so one name has one key (RFC 4343 §2: case-insensitive).</summary>
    private static ReadOnlySpan<char> Normalise(Span<char> name)
    {
        for (int i = 0; i < name.Length; i++)
        {
            if (name[i] is >= 'A' and <= 'Z')
            {
                name[i] = (char)(name[i] | 0x20);
            }
        }

        return name.Length > 1 && name[^1] == '.' ? name.Slice(0, name.Length - 1) : name;
    }

    private long TtlTicks(uint ttlSeconds)
    {
        if (_fixedTtlTicks >= 0)
        {
            return _fixedTtlTicks;
        }

        // RFC 2181 §8: a TTL with the top bit set is taken as zero.
        long ticks = ttlSeconds > int.MaxValue ? 0 : ttlSeconds * TimeSpan.TicksPerSecond;
        return Math.Min(Math.Max(ticks, _minTtlTicks), _maxTtlTicks);
    }

    private NameEntry Intern(ReadOnlySpan<char> name)
    {
        if (!_nameLookup.TryGetValue(name, out NameEntry? entry))
        {
            entry = new NameEntry(name.ToString());
            _names.Add(entry.Name, entry);
        }

        return entry;
    }

    private void Add(IpAddr address, NameEntry name, long expires, ref List<TrackedAddressRemovedEventArgs>? removed)
    {
        bool exists = _addresses.TryGetValue(address, out Slot slot);
        if (exists && slot.Has(name))
        {
            if (expires > slot.ExpiresTicks)
            {
                _addresses[address] = new Slot(slot.Names, expires);
            }

            return;
        }

        if (name.Count == _maxPerName)
        {
            IpAddr oldest = name.RemoveOldest();
            if (_addresses.TryGetValue(oldest, out Slot old))
            {
                Slot rest = old.Without(name);
                if (rest.Names is null)
                {
                    _addresses.TryRemove(oldest, out _);
                    (removed ??= []).Add(new TrackedAddressRemovedEventArgs(
                        new TrackedAddress(oldest, [name.Name], old.ExpiresTicks), TrackedAddressRemovalReason.NameCapExceeded));
                }
                else
                {
                    _addresses[oldest] = rest;
                }
            }

            if (!_addresses.TryGetValue(address, out slot))
            {
                exists = false;
            }
        }

        name.Append(address);
        _addresses[address] = exists ? new Slot(slot.With(name), Math.Max(expires, slot.ExpiresTicks)) : new Slot(name, expires);
    }

    private void RemoveAddress(IpAddr address, Slot slot, TrackedAddressRemovalReason reason, ref List<TrackedAddressRemovedEventArgs>? removed)
    {
        _addresses.TryRemove(address, out _);
        foreach (string n in NamesOf(slot))
        {
            NameEntry entry = _names[n];
            entry.Remove(address);
            if (entry.Count == 0)
            {
                _names.Remove(n);
            }
        }

        (removed ??= []).Add(new TrackedAddressRemovedEventArgs(new TrackedAddress(address, NamesOf(slot), slot.ExpiresTicks), reason));
    }

    private void Raise(List<TrackedAddressRemovedEventArgs>? removed)
    {
        EventHandler<TrackedAddressRemovedEventArgs>? handler = AddressRemoved;
        if (removed is null || handler is null)
        {
            return;
        }

        foreach (TrackedAddressRemovedEventArgs e in removed)
        {
            handler(this, e);
        }
    }

    /// <summary>An address's names (one <see cref="NameEntry"/> or an array of them, to stay 16 bytes) and expiry.</summary>
    private readonly struct Slot
    {
        public Slot(object? names, long expiresTicks)
        {
            Names = names;
            ExpiresTicks = expiresTicks;
        }

        public object? Names { get; }

        public long ExpiresTicks { get; }

        public bool Has(NameEntry name) => Names switch
        {
            NameEntry one => one == name,
            NameEntry[] many => Array.IndexOf(many, name) >= 0,
            _ => false,
        };

        public object With(NameEntry name) => Names switch
        {
            NameEntry one => new[] { one, name },
            NameEntry[] many => Grow(many, name),
            _ => name,
        };

        public Slot Without(NameEntry name)
        {
            object? rest = Names switch
            {
                NameEntry one when one == name => null,
                NameEntry[] many => Shrink(Array.FindAll(many, n => n != name)),
                var other => other,
            };
            return new Slot(rest, ExpiresTicks);
        }

        private static NameEntry[] Grow(NameEntry[] names, NameEntry name)
        {
            var grown = new NameEntry[names.Length + 1];
            names.CopyTo(grown, 0);
            grown[^1] = name;
            return grown;
        }

        private static object? Shrink(NameEntry[] names) => names.Length switch
        {
            0 => null,
            1 => names[0],
            _ => names,
        };
    }

    /// <summary>An owner name and its addresses, oldest first, in a ring.</summary>
    private sealed class NameEntry
    {
        private IpAddr[] _ring = new IpAddr[2];
        private int _start;

        public NameEntry(string name) => Name = name;

        public string Name { get; }

        public int Count { get; private set; }

        public void Append(IpAddr address)
        {
            if (Count == _ring.Length)
            {
                var bigger = new IpAddr[_ring.Length * 2];
                for (int i = 0; i < Count; i++)
                {
                    bigger[i] = _ring[(_start + i) % _ring.Length];
                }

                _ring = bigger;
                _start = 0;
            }

            _ring[(_start + Count) % _ring.Length] = address;
            Count++;
        }

        public IpAddr RemoveOldest()
        {
            IpAddr oldest = _ring[_start];
            _start = (_start + 1) % _ring.Length;
            Count--;
            return oldest;
        }

        public void Remove(IpAddr address)
        {
            int kept = 0;
            var compact = new IpAddr[_ring.Length];
            for (int i = 0; i < Count; i++)
            {
                IpAddr a = _ring[(_start + i) % _ring.Length];
                if (a != address)
                {
                    compact[kept++] = a;
                }
            }

            _ring = compact;
            _start = 0;
            Count = kept;
        }
    }
}
