# imu.py -- MPU-6050 / LSM6DS3 over machine.I2C, raw counts in the repfit packet scale
# (g = raw * full_scale / 32768; see device_firmware/esp32_arduino/repfit_esp32/imu.h).

import struct


class Imu:
    def __init__(self, i2c):
        self.i2c = i2c
        self.kind = None
        self.addr = None
        found = i2c.scan()
        for a in (0x68, 0x69):
            if a in found and self._r8(a, 0x75) == 0x68:
                self.kind, self.addr = "mpu6050", a
                self._w8(0x6B, 0x01)  # wake, PLL clock
                self._w8(0x1A, 0x03)  # DLPF 44 Hz, 1 kHz internal rate
                return
        for a in (0x6A, 0x6B):
            if a in found and self._r8(a, 0x0F) in (0x69, 0x6A):
                self.kind, self.addr = "lsm6ds3", a
                self._w8(0x12, 0x44)  # BDU, auto-increment
                return
        raise OSError("no MPU-6050 (0x68/0x69) or LSM6DS3 (0x6A/0x6B) on the I2C bus")

    def configure(self, range_code, rate_hz):
        if self.kind == "mpu6050":
            self._w8(0x1C, range_code << 3)
            self._w8(0x19, min(255, max(0, 1000 // rate_hz - 1)))
        else:
            fs = (0x0, 0x2, 0x3, 0x1)[range_code & 3]
            odr = 0x2 if rate_hz <= 26 else 0x3 if rate_hz <= 52 else 0x4 if rate_hz <= 104 \
                else 0x5 if rate_hz <= 208 else 0x6
            self._w8(0x10, (odr << 4) | (fs << 2))

    def read(self):
        if self.kind == "mpu6050":
            return struct.unpack(">hhh", self.i2c.readfrom_mem(self.addr, 0x3B, 6))
        return struct.unpack("<hhh", self.i2c.readfrom_mem(self.addr, 0x28, 6))

    def _r8(self, addr, reg):
        return self.i2c.readfrom_mem(addr, reg, 1)[0]

    def _w8(self, reg, value):
        self.i2c.writeto_mem(self.addr, reg, bytes([value]))
