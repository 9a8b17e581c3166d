/*
 * rf_ring.h -- the firmware's sample buffer: samples wait here until a notification carrying
 * them has been accepted by the BLE stack, so a congested or briefly lost link loses nothing.
 * When the ring is full the oldest sample is discarded, the sample counter keeps counting
 * (the host sees the gap exactly) and the next packet carries the overflow flag.
 * Portable C99, compiled and tested by the host's tests with gcc.
 */
#ifndef RF_RING_H
#define RF_RING_H

#include <stddef.h>
#include <stdint.h>

#include "repfit_packet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    rf_sample_t s;
    uint32_t index; /* sample counter value of this sample */
    uint32_t t_us;  /* device clock when the sample was taken */
} rf_slot_t;

typedef struct {
    rf_slot_t *slots;
    uint16_t cap;
    uint16_t head;      /* oldest slot */
    uint16_t count;     /* samples waiting */
    uint8_t overflowed; /* samples were discarded since the last packet went out */
} rf_ring_t;

void rf_ring_init(rf_ring_t *r, rf_slot_t *storage, uint16_t cap);

/* Append one sample (drops the oldest one when full). Indices must increase; a jump (a
 * sample that could not be read) is a hole the host will see as lost samples. */
void rf_ring_push(rf_ring_t *r, rf_sample_t s, uint32_t index, uint32_t t_us);

/* Encode the oldest run of consecutive samples (at most max_n) as one notification WITHOUT
 * removing them. Returns the packet length (0 when empty) and the sample count in *n_out. */
size_t rf_ring_packet(const rf_ring_t *r, uint8_t max_n, uint16_t rate_hz, uint8_t range_code,
                      uint8_t *out, size_t cap, uint8_t *n_out);

/* The notification with n samples was accepted: remove them, clear the overflow flag. */
void rf_ring_consume(rf_ring_t *r, uint8_t n);

#ifdef __cplusplus
}
#endif

#endif /* RF_RING_H */
