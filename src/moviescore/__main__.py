from moviescore.cli import app

app(prog_name="moviescore")
