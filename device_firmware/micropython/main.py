# main.py -- repfit wearable for MicroPython boards with BLE (ESP32, ESP32-C3/S3, nRF52840,
# Raspberry Pi Pico W) using aioble. Serves the repfit GATT profile v1 (docs/ble-profile.md)
# with the same packet encoder the host's tests check (repfit_packet.py).
#
# Copy to the board:  mpremote mip install aioble
#                     mpremote cp repfit_packet.py imu.py main.py :
# Wiring: IMU SDA/SCL to the pins below, 3V3 and GND.

import asyncio

import aioble
import bluetooth
import machine
import time
from micropython import const

import repfit_packet as rp
from imu import Imu

SDA_PIN = 21
SCL_PIN = 22

SERVICE = bluetooth.UUID("5f2a0001-7e3c-4b8a-9d61-3a1c0e7b9f20")
SAMPLES = bluetooth.UUID("5f2a0002-7e3c-4b8a-9d61-3a1c0e7b9f20")
CONTROL = bluetooth.UUID("5f2a0003-7e3c-4b8a-9d61-3a1c0e7b9f20")
BATTERY = bluetooth.UUID(0x180F)
BATTERY_LEVEL = bluetooth.UUID(0x2A19)
DEVICE_INFO = bluetooth.UUID(0x180A)
_ADV_INTERVAL_US = const(250_000)
RING_SECONDS = 2
MAX_WAIT_MS = 60

state = {"streaming": False, "rate": 100, "range": 2, "reconfigure": True}

samples_service = aioble.Service(SERVICE)
samples_chr = aioble.Characteristic(samples_service, SAMPLES, notify=True)
control_chr = aioble.Characteristic(samples_service, CONTROL, read=True, write=True,
                                    capture=True)
battery_service = aioble.Service(BATTERY)
battery_chr = aioble.Characteristic(battery_service, BATTERY_LEVEL, read=True, notify=True)
info_service = aioble.Service(DEVICE_INFO)
aioble.Characteristic(info_service, bluetooth.UUID(0x2A29), read=True, initial=b"repfit")
aioble.Characteristic(info_service, bluetooth.UUID(0x2A26), read=True,
                      initial=b"repfit-micropython 1.0 (profile v1)")
aioble.register_services(samples_service, battery_service, info_service)


class Ring:
    """Samples wait here until a notification carrying them went out (drop oldest when full)."""

    def __init__(self, cap):
        self.cap = cap
        self.items = []  # (index, t_us, x, y, z)
        self.overflowed = False

    def push(self, item):
        if len(self.items) >= self.cap:
            self.items.pop(0)
            self.overflowed = True
        self.items.append(item)

    def packet(self, max_n, rate_hz, range_code):
        if not self.items:
            return b"", 0
        first = self.items[0]
        flat = []
        n = 0
        for it in self.items[:max_n]:
            if it[0] != first[0] + n:
                break  # a hole: the next packet starts after it
            flat.extend(it[2:])
            n += 1
        data = rp.encode(flat, n, rate_hz, first[0], first[1], range_code, self.overflowed)
        return data, n

    def consume(self, n):
        del self.items[:n]
        self.overflowed = False


def publish_state():
    rate = state["rate"]
    control_chr.write(bytes([1 if state["streaming"] else 0, state["range"], rate & 0xFF,
                             rate >> 8]))


async def control_task():
    while True:
        _conn, data = await control_chr.written()
        op, value = rp.parse_control(data)
        if value < 0:
            print("control write refused, error", -value)
        elif op == rp.CTRL_START:
            state["streaming"] = True
        elif op == rp.CTRL_STOP:
            state["streaming"] = False
        elif op == rp.CTRL_SET_RATE:
            state["rate"], state["reconfigure"] = value, True
        elif op == rp.CTRL_SET_RANGE:
            state["range"], state["reconfigure"] = value, True
        publish_state()


async def sample_task(imu, ring):
    counter = 0
    next_us = time.ticks_us()
    while True:
        if state["reconfigure"]:
            state["reconfigure"] = False
            imu.configure(state["range"], state["rate"])
            ring.cap = RING_SECONDS * 400
        period = 1_000_000 // state["rate"]
        wait = time.ticks_diff(next_us, time.ticks_us())
        if wait > 0:
            await asyncio.sleep_ms(wait // 1000)
            continue
        now = time.ticks_us()
        next_us = time.ticks_add(next_us, period)
        if time.ticks_diff(now, next_us) > 10 * period:  # far behind: skip, count the hole
            missed = time.ticks_diff(now, next_us) // period
            counter += missed
            next_us = time.ticks_add(next_us, missed * period)
        if not state["streaming"]:
            continue
        index = counter
        counter += 1
        try:
            x, y, z = imu.read()
        except OSError:
            continue  # the host sees the missing index as a lost sample
        ring.push((index, now & 0xFFFFFFFF, x, y, z))


async def send_task(connection, ring):
    while connection.is_connected():
        mtu = getattr(connection, "mtu", None) or 23
        batch = rp.samples_per_packet(mtu)
        old = ring.items and time.ticks_diff(time.ticks_us(), ring.items[0][1]) > MAX_WAIT_MS * 1000
        if ring.items and (len(ring.items) >= batch or old):
            data, n = ring.packet(batch, state["rate"], state["range"])
            try:
                samples_chr.notify(connection, data)
                ring.consume(n)
            except (OSError, ValueError):
                await asyncio.sleep_ms(5)  # no buffer: keep the samples, retry
        else:
            await asyncio.sleep_ms(5)


async def main():
    i2c = machine.I2C(0, scl=machine.Pin(SCL_PIN), sda=machine.Pin(SDA_PIN), freq=400_000)
    imu = Imu(i2c)
    ring = Ring(RING_SECONDS * 400)
    aioble.config(mtu=247)
    battery_chr.write(bytes([100]))
    publish_state()
    mac = aioble.config("mac")[1]
    name = "repfit-%02X%02X" % (mac[-2], mac[-1])
    asyncio.create_task(control_task())
    asyncio.create_task(sample_task(imu, ring))
    while True:
        async with await aioble.advertise(_ADV_INTERVAL_US, name=name, services=[SERVICE]) \
                as connection:
            try:
                await connection.exchange_mtu(247)
            except (OSError, ValueError):
                pass
            print("connected", connection.device, "MTU", getattr(connection, "mtu", 23))
            await send_task(connection, ring)
            print("disconnected; samples keep buffering")


asyncio.run(main())
