/*
 * repfit_packet.h -- the byte layout of repfit's BLE sample notifications (profile v1).
 *
 * One portable C99 file pair shared by every firmware (ESP32 Arduino/NimBLE, nRF52, ...)
 * and compiled by the host's tests with the machine's gcc, so the encoder here and the
 * Python decoder (repfit.host.sources._packets) are checked against the same golden vectors
 * (device_firmware/golden/vectors.json). The layout is specified in docs/ble-profile.md.
 *
 * No allocation, no floating point in the encoder, no dependency beyond <stdint.h>/<stddef.h>.
 */
#ifndef REPFIT_PACKET_H
#define REPFIT_PACKET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RF_PACKET_VERSION 1u
#define RF_HEADER_LEN 14u  /* bytes before the first sample */
#define RF_SAMPLE_LEN 6u   /* int16 x, y, z, little-endian */
#define RF_MAX_SAMPLES 255u
#define RF_FLAG_OVERFLOW 0x80u /* range byte, bit 7: the device ring overflowed before this packet */

/* Control characteristic opcodes (first byte of a write). */
#define RF_CTRL_START 0x01u
#define RF_CTRL_STOP 0x02u
#define RF_CTRL_SET_RATE 0x03u  /* + uint16 LE rate in Hz (10..400) */
#define RF_CTRL_SET_RANGE 0x04u /* + uint8 range code 0..3 (2, 4, 8, 16 g) */

/* Error codes returned (negated) by rf_parse_control. */
#define RF_ERR_EMPTY 1
#define RF_ERR_OPCODE 2
#define RF_ERR_LENGTH 3
#define RF_ERR_VALUE 4

typedef struct {
    int16_t x, y, z; /* raw counts: g = raw * full_scale_g / 32768 */
} rf_sample_t;

typedef struct {
    uint16_t rate_hz;     /* nominal sample rate */
    uint32_t first_index; /* running count of samples taken, of the first sample here (wraps) */
    uint32_t t_us;        /* device clock at the first sample, microseconds (wraps ~71.6 min) */
    uint8_t range_code;   /* 0..3 -> +-2, 4, 8, 16 g */
    uint8_t overflow;     /* 1 if samples were discarded on the device before this packet */
} rf_header_t;

typedef struct {
    uint8_t opcode;
    uint16_t rate_hz;   /* valid for RF_CTRL_SET_RATE */
    uint8_t range_code; /* valid for RF_CTRL_SET_RANGE */
} rf_control_t;

/* How many samples fit in one notification for a negotiated ATT MTU (payload = MTU - 3). */
uint8_t rf_samples_per_packet(uint16_t att_mtu);

/* Encode one notification into out[0..cap). Returns the number of bytes written, or 0 when
 * n is 0, the range code is invalid or the buffer is too small (nothing is written then). */
size_t rf_encode(uint8_t *out, size_t cap, const rf_header_t *h, const rf_sample_t *samples,
                 uint8_t n);

/* Parse a control write. Returns 0 and fills *out, or a negative RF_ERR_* code. */
int rf_parse_control(const uint8_t *data, size_t len, rf_control_t *out);

/* Convert milli-g to raw counts for a range code, saturating at the int16 limits. */
int16_t rf_mg_to_raw(int32_t mg, uint8_t range_code);

#ifdef __cplusplus
}
#endif

#endif /* REPFIT_PACKET_H */
