/* rf_ring.c -- see rf_ring.h. */
#include "rf_ring.h"

void rf_ring_init(rf_ring_t *r, rf_slot_t *storage, uint16_t cap) {
    r->slots = storage;
    r->cap = cap;
    r->head = 0u;
    r->count = 0u;
    r->overflowed = 0u;
}

void rf_ring_push(rf_ring_t *r, rf_sample_t s, uint32_t index, uint32_t t_us) {
    uint16_t tail;
    if (r->cap == 0u) {
        return;
    }
    if (r->count == r->cap) { /* full: discard the oldest; the counter shows the hole */
        r->head = (uint16_t)((r->head + 1u) % r->cap);
        r->count--;
        r->overflowed = 1u;
    }
    tail = (uint16_t)((r->head + r->count) % r->cap);
    r->slots[tail].s = s;
    r->slots[tail].index = index;
    r->slots[tail].t_us = t_us;
    r->count++;
}

size_t rf_ring_packet(const rf_ring_t *r, uint8_t max_n, uint16_t rate_hz, uint8_t range_code,
                      uint8_t *out, size_t cap, uint8_t *n_out) {
    rf_sample_t batch[RF_MAX_SAMPLES];
    rf_header_t h;
    uint8_t n = 0u;
    const rf_slot_t *first;
    *n_out = 0u;
    if (r->count == 0u || max_n == 0u) {
        return 0u;
    }
    first = &r->slots[r->head];
    while (n < max_n && n < r->count) {
        const rf_slot_t *slot = &r->slots[(r->head + n) % r->cap];
        if (slot->index != first->index + n) {
            break; /* a hole: the next packet starts after it */
        }
        batch[n] = slot->s;
        n++;
    }
    h.rate_hz = rate_hz;
    h.first_index = first->index;
    h.t_us = first->t_us;
    h.range_code = range_code;
    h.overflow = r->overflowed;
    *n_out = n;
    return rf_encode(out, cap, &h, batch, n);
}

void rf_ring_consume(rf_ring_t *r, uint8_t n) {
    if (n > r->count) {
        n = (uint8_t)r->count;
    }
    r->head = (uint16_t)((r->head + n) % r->cap);
    r->count = (uint16_t)(r->count - n);
    r->overflowed = 0u;
}
