// repfit_esp32.ino -- ESP32 + MPU-6050 or LSM6DS3 wearable serving the repfit GATT profile v1
// (docs/ble-profile.md) with NimBLE-Arduino 2.x.
//
// - Samples at the requested rate from its own timer; every sample goes into a ring buffer
//   (rf_ring.c, 2 s) and leaves it only when a notification carrying it was accepted, so a
//   congested or briefly lost link loses nothing. On overflow the oldest samples go, the
//   sample counter keeps counting and the next packet has the overflow bit set.
// - Packs as many samples per notification as the negotiated MTU allows
//   (rf_samples_per_packet), and sends a partial packet when the oldest sample is 60 ms old,
//   so latency stays low at low rates.
// - Advertises the repfit service UUID; Battery (0x180F) and Device Information (0x180A).
//
// Wiring (default pins, change below): IMU SDA -> GPIO 21, SCL -> GPIO 22, VCC 3V3, GND.
// Battery: a 1:2 divider from the cell to BATTERY_PIN (set to -1 if you have none).

#include <Arduino.h>
#include <NimBLEDevice.h>
#include <Wire.h>
#include <esp_timer.h>

#include "imu.h"
#include "repfit_packet.h"
#include "rf_ring.h"

static const char *SERVICE_UUID = "5f2a0001-7e3c-4b8a-9d61-3a1c0e7b9f20";
static const char *SAMPLES_UUID = "5f2a0002-7e3c-4b8a-9d61-3a1c0e7b9f20";
static const char *CONTROL_UUID = "5f2a0003-7e3c-4b8a-9d61-3a1c0e7b9f20";

static const int SDA_PIN = 21;
static const int SCL_PIN = 22;
static const int BATTERY_PIN = -1;  // ADC pin behind a 1:2 divider, or -1
static const char *FIRMWARE_REVISION = "repfit-esp32 1.0 (profile v1)";

static const uint16_t RING_CAPACITY = 800;  // 2 s at 400 Hz, 4 s at 200 Hz, 8 s at 100 Hz
static const uint32_t MAX_WAIT_US = 60000;  // send a partial packet after 60 ms

static Imu imu;
static rf_slot_t ring_storage[RING_CAPACITY];
static rf_ring_t ring;

static NimBLECharacteristic *samples_chr = nullptr;
static NimBLECharacteristic *control_chr = nullptr;
static NimBLECharacteristic *battery_chr = nullptr;

static volatile bool streaming = false;
static volatile bool subscribed = false;
static volatile uint16_t att_mtu = 23;
static volatile uint16_t rate_hz = 100;
static volatile uint8_t range_code = 2;  // +-8 g
static volatile bool reconfigure = true;
static uint32_t sample_counter = 0;
static int64_t next_sample_us = 0;

static void publish_control_state() {
  uint8_t state[4] = {(uint8_t)(streaming ? 1 : 0), range_code, (uint8_t)(rate_hz & 0xFF),
                      (uint8_t)(rate_hz >> 8)};
  control_chr->setValue(state, sizeof state);
}

class ServerCallbacks : public NimBLEServerCallbacks {
  void onConnect(NimBLEServer *server, NimBLEConnInfo &info) override {
    // Ask for a short connection interval (7.5-15 ms) so notifications leave promptly.
    server->updateConnParams(info.getConnHandle(), 6, 12, 0, 400);
  }
  void onDisconnect(NimBLEServer *, NimBLEConnInfo &, int reason) override {
    subscribed = false;  // keep sampling into the ring: the host resumes where it left off
    att_mtu = 23;
    Serial.printf("disconnected (reason %d), advertising again\n", reason);
  }
  void onMTUChange(uint16_t mtu, NimBLEConnInfo &) override {
    att_mtu = mtu;
    Serial.printf("MTU %u -> %u samples per notification\n", mtu, rf_samples_per_packet(mtu));
  }
};

class SamplesCallbacks : public NimBLECharacteristicCallbacks {
  void onSubscribe(NimBLECharacteristic *, NimBLEConnInfo &, uint16_t sub_value) override {
    subscribed = (sub_value & 0x0001) != 0;
  }
};

class ControlCallbacks : public NimBLECharacteristicCallbacks {
  void onWrite(NimBLECharacteristic *chr, NimBLEConnInfo &) override {
    NimBLEAttValue v = chr->getValue();
    rf_control_t cmd;
    int rc = rf_parse_control(v.data(), v.length(), &cmd);
    if (rc != 0) {
      Serial.printf("control write refused (error %d, %u bytes)\n", -rc, (unsigned)v.length());
      publish_control_state();  // reading back shows nothing changed
      return;
    }
    switch (cmd.opcode) {
      case RF_CTRL_START: streaming = true; break;
      case RF_CTRL_STOP: streaming = false; break;
      case RF_CTRL_SET_RATE: rate_hz = cmd.rate_hz; reconfigure = true; break;
      case RF_CTRL_SET_RANGE: range_code = cmd.range_code; reconfigure = true; break;
    }
    publish_control_state();
  }
};

static uint8_t battery_percent() {
  if (BATTERY_PIN < 0) return 100;
  uint32_t mv = analogReadMilliVolts(BATTERY_PIN) * 2;  // 1:2 divider
  int pct = (int)((mv - 3300) * 100 / (4200 - 3300));   // Li-ion, roughly linear
  return (uint8_t)constrain(pct, 0, 100);
}

static void setup_ble() {
  uint8_t mac[6];
  char name[16];
  NimBLEDevice::init("");
  memcpy(mac, NimBLEDevice::getAddress().getVal(), 6);
  snprintf(name, sizeof name, "repfit-%02X%02X", mac[1], mac[0]);
  NimBLEDevice::setDeviceName(name);
  NimBLEDevice::setMTU(247);
  NimBLEDevice::setPower(ESP_PWR_LVL_P9);

  NimBLEServer *server = NimBLEDevice::createServer();
  server->setCallbacks(new ServerCallbacks());
  server->advertiseOnDisconnect(true);

  NimBLEService *svc = server->createService(SERVICE_UUID);
  samples_chr = svc->createCharacteristic(SAMPLES_UUID, NIMBLE_PROPERTY::NOTIFY);
  samples_chr->setCallbacks(new SamplesCallbacks());
  control_chr = svc->createCharacteristic(CONTROL_UUID,
                                          NIMBLE_PROPERTY::READ | NIMBLE_PROPERTY::WRITE);
  control_chr->setCallbacks(new ControlCallbacks());
  publish_control_state();
  svc->start();

  NimBLEService *bat = server->createService("180F");
  battery_chr = bat->createCharacteristic("2A19", NIMBLE_PROPERTY::READ | NIMBLE_PROPERTY::NOTIFY);
  uint8_t pct = battery_percent();
  battery_chr->setValue(&pct, 1);
  bat->start();

  NimBLEService *dis = server->createService("180A");
  dis->createCharacteristic("2A29", NIMBLE_PROPERTY::READ)->setValue("repfit");
  dis->createCharacteristic("2A24", NIMBLE_PROPERTY::READ)
      ->setValue(imu.kind == ImuKind::Mpu6050 ? "ESP32 + MPU-6050" : "ESP32 + LSM6DS3");
  dis->createCharacteristic("2A26", NIMBLE_PROPERTY::READ)->setValue(FIRMWARE_REVISION);
  dis->start();

  NimBLEAdvertising *adv = NimBLEDevice::getAdvertising();
  adv->addServiceUUID(SERVICE_UUID);  // the host's scan filter
  adv->setName(name);
  adv->enableScanResponse(true);
  adv->start();
  Serial.printf("advertising as %s\n", name);
}

void setup() {
  Serial.begin(115200);
  Wire.begin(SDA_PIN, SCL_PIN, 400000);
  if (imu.begin(Wire) == ImuKind::None) {
    Serial.println("no MPU-6050 (0x68/0x69) or LSM6DS3 (0x6A/0x6B) on the I2C bus; check wiring");
  }
  rf_ring_init(&ring, ring_storage, RING_CAPACITY);
  setup_ble();
  next_sample_us = esp_timer_get_time();
}

static void sample_if_due() {
  int64_t now = esp_timer_get_time();
  if (now < next_sample_us) return;
  int64_t period = 1000000 / rate_hz;
  if (now - next_sample_us > 10 * period) {
    // Fell far behind (flash write, ...): skip ahead; the counter records the hole.
    int64_t missed = (now - next_sample_us) / period;
    sample_counter += (uint32_t)missed;
    next_sample_us += missed * period;
  }
  next_sample_us += period;
  if (!streaming) return;
  rf_sample_t s;
  uint32_t index = sample_counter++;
  if (!imu.read(s.x, s.y, s.z)) return;  // a failed read is a hole the host counts as lost
  rf_ring_push(&ring, s, index, (uint32_t)now);
}

static void send_if_ready() {
  if (!subscribed || ring.count == 0) return;
  uint8_t batch = rf_samples_per_packet(att_mtu);
  if (batch == 0) return;
  uint32_t oldest_age = (uint32_t)esp_timer_get_time() - ring.slots[ring.head].t_us;
  if (ring.count < batch && oldest_age < MAX_WAIT_US) return;
  static uint8_t buf[RF_HEADER_LEN + RF_SAMPLE_LEN * RF_MAX_SAMPLES];
  uint8_t n = 0;
  size_t len = rf_ring_packet(&ring, batch, rate_hz, range_code, buf, sizeof buf, &n);
  if (len == 0) return;
  // notify() returns false when the stack has no buffer for it: keep the samples and retry.
  if (samples_chr->notify(buf, len)) rf_ring_consume(&ring, n);
}

void loop() {
  if (reconfigure) {
    reconfigure = false;
    imu.configure(range_code, rate_hz);
    next_sample_us = esp_timer_get_time();
  }
  sample_if_due();
  send_if_ready();
  static uint32_t last_battery_ms = 0;
  if (millis() - last_battery_ms > 60000) {
    last_battery_ms = millis();
    uint8_t pct = battery_percent();
    battery_chr->setValue(&pct, 1);
    battery_chr->notify();
  }
}
