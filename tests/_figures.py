"""What the plot tests check on a figure: that no text is drawn outside it."""


def clipped_texts(figure):
    """The texts drawn outside ``figure``'s bounds, rendered with Agg as ``savefig`` renders them.

    Only texts actually drawn count (a tick label outside the view limits is never drawn), so
    each is recorded from inside ``Text.draw``.
    """
    from unittest import mock

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(figure)
    drawn, draw = [], Text.draw

    def recording_draw(text, renderer):
        draw(text, renderer)
        if text.get_visible() and text.get_text().strip():
            drawn.append((text.get_text(), text.get_window_extent(renderer)))

    with mock.patch.object(Text, "draw", recording_draw):
        canvas.draw()
    assert drawn, "nothing was drawn: the check would pass vacuously"
    bounds = figure.bbox
    return [
        text
        for text, box in drawn
        if box.x0 < bounds.x0 - 1 or box.y0 < bounds.y0 - 1 or box.x1 > bounds.x1 + 1 or box.y1 > bounds.y1 + 1
    ]
