"""A Veil bot that answers /help and repeats what follows /echo.

    veil serve --home ~/bot-profile &        # the bot's own profile, served
    python examples/echo_bot.py --home ~/bot-profile

It prints its contact address; anyone who connects to it is accepted.
"""

from veil.bot import Bot, Command, Message, main

bot = Bot("echo")


@bot.command("echo", help="send back what follows /echo")
async def echo(command: Command) -> None:
    await command.reply(command.args or "(nothing to echo)")


@bot.on_message
async def hint(message: Message) -> None:
    await message.reply("I answer commands: send /help")


if __name__ == "__main__":
    main(bot)
