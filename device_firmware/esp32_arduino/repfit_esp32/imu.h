// imu.h -- minimal register-level drivers for the two IMUs the firmware supports.
//
// Both chips deliver raw counts whose scale equals the repfit packet scale
// (g = raw * full_scale / 32768): MPU-6050 16384 LSB/g at +-2 g (datasheet: MPU-6000/6050
// Register Map, ACCEL_CONFIG 0x1C, AFS_SEL), LSM6DS3 0.061 mg/LSB at +-2 g (datasheet
// DocID026899, CTRL1_XL 0x10, FS_XL; 0.06 % off, below its own sensitivity tolerance).
// So counts go into packets unchanged.
#pragma once

#include <Arduino.h>
#include <Wire.h>

enum class ImuKind : uint8_t { None, Mpu6050, Lsm6ds3 };

class Imu {
 public:
  ImuKind kind = ImuKind::None;
  uint8_t addr = 0;

  // Probe the bus; returns the IMU found (MPU-6050 at 0x68/0x69, LSM6DS3 at 0x6A/0x6B).
  ImuKind begin(TwoWire &wire) {
    wire_ = &wire;
    for (uint8_t a : {0x68, 0x69}) {
      if (read8(a, 0x75) == 0x68) {  // MPU-6050 WHO_AM_I
        addr = a;
        kind = ImuKind::Mpu6050;
        write8(0x6B, 0x01);  // PWR_MGMT_1: wake, PLL with X gyro clock
        write8(0x1A, 0x03);  // CONFIG: DLPF 44 Hz -> 1 kHz internal rate
        return kind;
      }
    }
    for (uint8_t a : {0x6A, 0x6B}) {
      uint8_t who = read8(a, 0x0F);
      if (who == 0x69 || who == 0x6A) {  // LSM6DS3 / LSM6DS3TR-C
        addr = a;
        kind = ImuKind::Lsm6ds3;
        write8(0x12, 0x44);  // CTRL3_C: BDU, register auto-increment
        return kind;
      }
    }
    return ImuKind::None;
  }

  // Configure full-scale range (repfit code 0..3 = 2/4/8/16 g) and an output rate >= rate_hz.
  void configure(uint8_t range_code, uint16_t rate_hz) {
    if (kind == ImuKind::Mpu6050) {
      write8(0x1C, (uint8_t)(range_code << 3));  // ACCEL_CONFIG AFS_SEL: same coding
      uint16_t div = rate_hz >= 1000 ? 0 : (uint16_t)(1000 / rate_hz - 1);
      write8(0x19, (uint8_t)(div > 255 ? 255 : div));  // SMPLRT_DIV
    } else if (kind == ImuKind::Lsm6ds3) {
      static const uint8_t fs_bits[4] = {0x0, 0x2, 0x3, 0x1};  // 2, 4, 8, 16 g
      uint8_t odr = rate_hz <= 26 ? 0x2 : rate_hz <= 52 ? 0x3 : rate_hz <= 104 ? 0x4
                  : rate_hz <= 208 ? 0x5 : 0x6;  // 26 .. 416 Hz
      write8(0x10, (uint8_t)((odr << 4) | (fs_bits[range_code & 3] << 2)));  // CTRL1_XL
    }
  }

  // Latest acceleration in raw counts; false if the bus read failed.
  bool read(int16_t &x, int16_t &y, int16_t &z) {
    uint8_t b[6];
    if (kind == ImuKind::Mpu6050) {
      if (!readN(0x3B, b, 6)) return false;  // ACCEL_XOUT_H.., big-endian
      x = (int16_t)((b[0] << 8) | b[1]);
      y = (int16_t)((b[2] << 8) | b[3]);
      z = (int16_t)((b[4] << 8) | b[5]);
      return true;
    }
    if (kind == ImuKind::Lsm6ds3) {
      if (!readN(0x28, b, 6)) return false;  // OUTX_L_XL.., little-endian
      x = (int16_t)(b[0] | (b[1] << 8));
      y = (int16_t)(b[2] | (b[3] << 8));
      z = (int16_t)(b[4] | (b[5] << 8));
      return true;
    }
    return false;
  }

 private:
  TwoWire *wire_ = nullptr;

  uint8_t read8(uint8_t a, uint8_t reg) {
    wire_->beginTransmission(a);
    wire_->write(reg);
    if (wire_->endTransmission(false) != 0) return 0xFF;
    if (wire_->requestFrom((int)a, 1) != 1) return 0xFF;
    return (uint8_t)wire_->read();
  }

  void write8(uint8_t reg, uint8_t v) {
    wire_->beginTransmission(addr);
    wire_->write(reg);
    wire_->write(v);
    wire_->endTransmission();
  }

  bool readN(uint8_t reg, uint8_t *out, uint8_t n) {
    wire_->beginTransmission(addr);
    wire_->write(reg);
    if (wire_->endTransmission(false) != 0) return false;
    if (wire_->requestFrom((int)addr, (int)n) != n) return false;
    for (uint8_t i = 0; i < n; ++i) out[i] = (uint8_t)wire_->read();
    return true;
  }
};
