/*
 * repfit_packet.c -- encoder for repfit BLE sample notifications (profile v1).
 * Layout and rationale: docs/ble-profile.md. Checked against the host decoder by
 * tests/wearables/test_c_encoder.py on device_firmware/golden/vectors.json.
 */
#include "repfit_packet.h"

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

uint8_t rf_samples_per_packet(uint16_t att_mtu) {
    uint32_t payload, n;
    if (att_mtu < 3u + RF_HEADER_LEN + RF_SAMPLE_LEN) {
        return 0u;
    }
    payload = (uint32_t)att_mtu - 3u;
    n = (payload - RF_HEADER_LEN) / RF_SAMPLE_LEN;
    return (uint8_t)(n > RF_MAX_SAMPLES ? RF_MAX_SAMPLES : n);
}

size_t rf_encode(uint8_t *out, size_t cap, const rf_header_t *h, const rf_sample_t *samples,
                 uint8_t n) {
    size_t need, i;
    uint8_t *p;
    if (out == 0 || h == 0 || samples == 0 || n == 0u || h->range_code > 3u) {
        return 0u;
    }
    need = RF_HEADER_LEN + (size_t)n * RF_SAMPLE_LEN;
    if (cap < need) {
        return 0u;
    }
    out[0] = (uint8_t)RF_PACKET_VERSION;
    out[1] = n;
    put_u16(out + 2, h->rate_hz);
    put_u32(out + 4, h->first_index);
    put_u32(out + 8, h->t_us);
    out[12] = (uint8_t)(h->range_code | (h->overflow ? RF_FLAG_OVERFLOW : 0u));
    out[13] = 0u; /* reserved */
    p = out + RF_HEADER_LEN;
    for (i = 0; i < n; ++i) {
        put_u16(p, (uint16_t)samples[i].x);
        put_u16(p + 2, (uint16_t)samples[i].y);
        put_u16(p + 4, (uint16_t)samples[i].z);
        p += RF_SAMPLE_LEN;
    }
    return need;
}

int rf_parse_control(const uint8_t *data, size_t len, rf_control_t *out) {
    uint16_t rate;
    if (data == 0 || out == 0 || len == 0u) {
        return -RF_ERR_EMPTY;
    }
    out->opcode = data[0];
    out->rate_hz = 0u;
    out->range_code = 0u;
    switch (data[0]) {
    case RF_CTRL_START:
    case RF_CTRL_STOP:
        return len == 1u ? 0 : -RF_ERR_LENGTH;
    case RF_CTRL_SET_RATE:
        if (len != 3u) {
            return -RF_ERR_LENGTH;
        }
        rate = (uint16_t)(data[1] | ((uint16_t)data[2] << 8));
        if (rate < 10u || rate > 400u) {
            return -RF_ERR_VALUE;
        }
        out->rate_hz = rate;
        return 0;
    case RF_CTRL_SET_RANGE:
        if (len != 2u) {
            return -RF_ERR_LENGTH;
        }
        if (data[1] > 3u) {
            return -RF_ERR_VALUE;
        }
        out->range_code = data[1];
        return 0;
    default:
        return -RF_ERR_OPCODE;
    }
}

int16_t rf_mg_to_raw(int32_t mg, uint8_t range_code) {
    /* raw = mg * 32768 / (1000 * fs_g), rounded half away from zero, saturated. */
    int64_t fs_mg = 2000LL << (range_code & 3u);
    int64_t num = (int64_t)mg * 32768LL;
    int64_t q = (num >= 0 ? num + fs_mg / 2 : num - fs_mg / 2) / fs_mg;
    if (q > 32767) {
        return 32767;
    }
    if (q < -32768) {
        return -32768;
    }
    return (int16_t)q;
}
