"""Webhook deliveries in flight (services/notify/delivery.Flights): lanes per receiver and per university."""
import eventlet

from services.notify.delivery import Flights


def test_a_receiver_and_a_university_each_have_a_limit_and_the_rest_of_the_pool_serves_others():
    flights = Flights(size=10, per_destination=2, per_university=3)
    release = eventlet.event.Event()
    seu_a = flights.lanes("a.seu.edu.cn:443", "seu")
    seu_b = flights.lanes("b.seu.edu.cn:443", "seu")
    wust = flights.lanes("hook.wust.edu.cn:443", "wust")
    taken = {}
    assert flights.has_room(seu_a, taken)
    for n in range(2):
        flights.start(f"d{n}", seu_a, release.wait)
    eventlet.sleep(0)
    assert not flights.has_room(seu_a, {})  # that receiver has its two
    assert flights.has_room(seu_b, {})  # another receiver of the same university has room
    flights.start("d2", seu_b, release.wait)
    eventlet.sleep(0)
    assert not flights.has_room(seu_b, {})  # the university has its three, whatever the receiver
    assert flights.has_room(wust, {}) and flights.free() == 7
    # claims not yet started count too
    assert not flights.has_room(wust, {"to hook.wust.edu.cn:443": 2})
    assert flights.flying("d0") and not flights.flying("d9")
    release.send()
    eventlet.sleep(0.01)
    assert flights.in_flight() == {} and flights.free() == 10 and not flights.flying("d0")


def test_a_job_that_raises_gives_its_slot_back_and_stop_ends_the_rest():
    flights = Flights(size=2, per_destination=2, per_university=2)
    lanes = flights.lanes("a:80", "seu")

    def broken():
        raise RuntimeError("boom")

    flights.start("d1", lanes, broken)
    eventlet.sleep(0.01)
    assert flights.in_flight() == {} and flights.free() == 2
    flights.start("d2", lanes, lambda: eventlet.sleep(60))
    eventlet.sleep(0)
    assert flights.free() == 1
    flights.stop()
    eventlet.sleep(0.01)
    assert flights.in_flight() == {} and flights.free() == 2
