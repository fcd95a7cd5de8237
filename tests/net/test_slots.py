"""The run's request slots: never more held than there are, the asks on a backoff first, a cancelled wait no loss."""

import asyncio

from fetcher.net.slots import Slots, first_in_line


def test_a_request_first_in_line_takes_the_next_slot_ahead_of_those_waiting_and_the_rest_keep_their_order():
    async def main():
        slots, order, held = Slots(1), [], []

        async def request(name: str, first: bool = False) -> None:
            first_in_line.set(first)
            async with slots.held():
                held.append(name)
                assert len(held) == 1  # one slot: one holder at a time
                order.append(name)
                await asyncio.sleep(0)
                held.remove(name)

        async with slots.held():  # the slot taken: everyone below waits
            tasks = [asyncio.create_task(request("a")), asyncio.create_task(request("b")),
                     asyncio.create_task(request("re-ask", first=True)), asyncio.create_task(request("c"))]
            while slots.waiting < 4:
                await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(main()) == ["re-ask", "a", "b", "c"]


def test_a_cancelled_wait_gives_up_its_place_and_a_slot_handed_to_it_goes_on_to_the_next():
    async def main():
        slots, order = Slots(2), []

        async def request(name: str) -> None:
            async with slots.held():
                order.append(name)

        async with slots.held(), slots.held():
            gone = asyncio.create_task(request("gone"))
            later = asyncio.create_task(request("later"))
            while slots.waiting < 2:
                await asyncio.sleep(0)
            gone.cancel()
        await asyncio.gather(later)
        assert gone.cancelled()
        # Both slots free again: two can hold them at once, a third waits.
        async with slots.held(), slots.held():
            third = asyncio.create_task(request("third"))
            await asyncio.sleep(0)
            assert slots.waiting == 1 and order == ["later"]
        await third
        return order

    assert asyncio.run(main()) == ["later", "third"]


def test_a_slot_handed_over_as_its_waiter_is_cancelled_is_passed_on():
    async def main():
        slots, order = Slots(1), []

        async def request(name: str) -> None:
            async with slots.held():
                order.append(name)

        async with slots.held():
            handed = asyncio.create_task(request("handed"))
            after = asyncio.create_task(request("after"))
            while slots.waiting < 2:
                await asyncio.sleep(0)
        handed.cancel()  # the slot was handed to it on release, and it is cancelled before it runs
        await asyncio.gather(handed, after, return_exceptions=True)
        async with slots.held():  # the slot came back: not lost with the cancelled waiter
            pass
        return order

    assert asyncio.run(main()) == ["after"]
